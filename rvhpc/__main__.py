from rvhpc.cli import main

main()
