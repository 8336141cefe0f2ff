"""Every registered model against a plain per-step implementation of reference.md section 4,
reference state dicts, initialisation, shapes, determinism and bad input.

Parametrised over ``MODELS``: a new architecture is tested as soon as it is registered (and fails
until its equations are added to ``reference_forward`` below).
"""

from __future__ import annotations

import pytest
import torch

from rvhpc.errors import ConfigError
from rvhpc.models import MODELS, build_model, from_reference, load_reference_file, to_reference

N_DYN, N_STAT, HIDDEN = 5, 7, 8
ARCHS = sorted(MODELS)


def n_static(arch: str) -> int:
    return N_STAT if MODELS[arch].uses_static else 0


def inputs(arch: str, batch: int = 4, steps: int = 12, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x_d = torch.randn(batch, steps, N_DYN, generator=gen)
    x_s = torch.randn(batch, N_STAT, generator=gen) if MODELS[arch].uses_static else None
    return x_d, x_s


def random_reference_dict(arch: str, seed: int = 1, prefix: str = "") -> dict[str, torch.Tensor]:
    """Random weights (not the structured init) in the reference layout."""
    shapes = to_reference(build_model(arch, N_DYN, n_static(arch), hidden=HIDDEN))
    gen = torch.Generator().manual_seed(seed)
    return {prefix + k: 0.5 * torch.randn(v.shape, generator=gen) for k, v in shapes.items()}


# -- the reference equations, written out per step ---------------------------------------------
def _cell(gates: torch.Tensor, c: torch.Tensor, order: str, i_static: torch.Tensor | None = None):
    g = dict(zip(order, gates.chunk(len(order), dim=1), strict=False))
    i = i_static if i_static is not None else torch.sigmoid(g["i"])
    c = torch.sigmoid(g["f"]) * c + i * torch.tanh(g["g"])
    return torch.sigmoid(g["o"]) * torch.tanh(c), c


def reference_forward(
    sd: dict, arch: str, x_d: torch.Tensor, x_s: torch.Tensor | None
) -> torch.Tensor:
    """reference.md section 4, one time step at a time, in float64."""
    p = {k.removeprefix("module."): v.double() for k, v in sd.items()}
    x_d = x_d.double()
    x_s = x_s.double() if x_s is not None else None
    batch, steps, _ = x_d.shape
    hidden = p["lstm.weight_hh"].shape[0]
    h = torch.zeros(batch, hidden, dtype=torch.float64)
    c = torch.zeros_like(h)
    if arch in ("ea", "sr"):
        s = x_s if arch == "ea" else torch.relu(x_s @ p["lstm.weight_ann_1"] + p["lstm.bias_ann_1"])
        i = torch.sigmoid(s @ p["lstm.weight_sh"] + p["lstm.bias_s"])
        for t in range(steps):
            h, c = _cell(
                h @ p["lstm.weight_hh"] + x_d[:, t] @ p["lstm.weight_ih"] + p["lstm.bias"],
                c,
                "fog",
                i,
            )
        out = h
    elif arch in ("lstm", "ct", "fm"):
        x = torch.cat([x_d, x_s[:, None].expand(-1, steps, -1)], dim=2) if arch == "ct" else x_d
        order = "ifog" if arch == "fm" else "fiog"
        for t in range(steps):
            h, c = _cell(
                h @ p["lstm.weight_hh"] + x[:, t] @ p["lstm.weight_ih"] + p["lstm.bias"], c, order
            )
        out = h
        if arch == "fm":
            out = torch.sigmoid(x_s @ p["lstm.weight_sh"] + p["lstm.bias_s"]) * h
    else:
        raise AssertionError(f"add the equations of {arch!r} to reference_forward")
    return out @ p["fc.weight"].t() + p["fc.bias"]


# -- equations -----------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHS)
def test_matches_reference_equations(arch):
    sd = random_reference_dict(arch)
    model = from_reference(sd, arch, n_dynamic=N_DYN).eval()
    x_d, x_s = inputs(arch, steps=30)
    with torch.no_grad():
        ours = model(x_d, x_s)
    expected = reference_forward(sd, arch, x_d, x_s)
    assert ours.shape == (4, 1)
    assert torch.allclose(ours.double(), expected, atol=1e-5, rtol=0), (
        (ours.double() - expected).abs().max()
    )


def gradients_and_reference(arch: str) -> tuple[dict, dict]:
    """rvhpc's gradients in the reference layout, and the float64 reference parameters with
    theirs (``.grad``), of one loss on random weights and inputs (also bench_numerics')."""
    sd = random_reference_dict(arch, seed=2)
    model = from_reference(sd, arch, n_dynamic=N_DYN).eval()
    x_d, x_s = inputs(arch, steps=15, seed=3)
    model(x_d, x_s).square().sum().backward()
    ours = to_reference_grads(model)
    ref = {k: v.double().requires_grad_(True) for k, v in sd.items()}
    reference_forward(ref, arch, x_d, x_s).square().sum().backward()
    return ours, ref


@pytest.mark.parametrize("arch", ARCHS)
def test_gradients_match_autograd_of_reference(arch):
    ours, ref = gradients_and_reference(arch)
    for key, value in ref.items():
        assert torch.allclose(ours[key].double(), value.grad, atol=1e-4, rtol=1e-4), key


def to_reference_grads(model) -> dict[str, torch.Tensor]:
    """Gradients mapped into the reference layout (same linear map as the weights)."""
    saved = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        for _n, p in model.named_parameters():
            p.copy_(p.grad if p.grad is not None else torch.zeros_like(p))
        grads = to_reference(model)
        for n, p in model.named_parameters():
            p.copy_(saved[n])
    return grads


@pytest.mark.parametrize("arch", ["ct", "fm", "lstm"])
def test_both_cpu_paths_of_the_standard_lstm_match_the_reference(arch, monkeypatch):
    """CT/FM/LSTM run torch's fused LSTM on the CPU, or the hand-written recurrence (CT with wide
    statics, any GPU): both give the reference's outputs and gradients."""
    import rvhpc.models.fused as fused

    for limit in (10**6, -1):
        monkeypatch.setattr(fused, "MAX_FUSED_STATICS", limit)
        test_matches_reference_equations(arch)
        test_gradients_match_autograd_of_reference(arch)


@pytest.mark.parametrize("grouped", [False, True], ids=["member-by-member", "grouped"])
@pytest.mark.parametrize("gates", ["fog", "fogi"])
def test_recurrence_gradients_in_double_precision(gates, grouped, monkeypatch):
    """The hand-written backward (K = 2 members, EA's fixed input gate and the 4-gate LSTM) against
    autograd through the plain loop, member by member, to 1e-10 in float64. ``grouped`` runs the
    GPU's code path (all members as one group, bmm/baddbmm) here on the CPU."""
    import rvhpc.models.recurrence as recurrence
    from rvhpc.models.recurrence import last_hidden

    if grouped:
        monkeypatch.setattr(recurrence, "per_member", lambda t: False)

    gen = torch.Generator().manual_seed(4)
    n_g = len(gates)
    f64 = {"generator": gen, "dtype": torch.float64}
    args = [
        torch.randn(2, 3, 6, 2, **f64),  # x_d [K, B, T, n]
        torch.randn(2, 2, n_g * 4, **f64),  # W_ih [K, n, G]
        0.5 * torch.randn(2, 4, n_g * 4, **f64),  # W_hh [K, H, G]
        torch.randn(2, n_g * 4, **f64),  # b [K, G]
        torch.rand(2, 3, 4, **f64) if n_g == 3 else None,  # i [K, B, H]
    ]
    grad_out = torch.randn(2, 3, 4, **f64)

    def plain(x_d, w_ih, w_hh, b, i):
        out = []
        for k in range(2):
            h = c = torch.zeros(3, 4, dtype=torch.float64)
            for t in range(x_d.shape[2]):
                z = h @ w_hh[k] + x_d[k, :, t] @ w_ih[k] + b[k]
                if i is None:
                    z, zi = z[:, :12], torch.sigmoid(z[:, 12:])
                else:
                    zi = i[k]
                h, c = _cell(z, c, "fog", zi)
            out.append(h)
        return torch.stack(out)

    results = []
    for fn in (last_hidden, plain):
        leaves = [None if a is None else a.clone().requires_grad_(True) for a in args]
        (fn(*leaves) * grad_out).sum().backward()
        results.append([leaf.grad for leaf in leaves[1:] if leaf is not None])  # no dx
    for ours, ref in zip(*results, strict=False):
        assert torch.allclose(ours, ref, atol=1e-10, rtol=1e-10)
    with torch.no_grad():  # the inference path (two steps of state)
        assert torch.allclose(last_hidden(*args), plain(*args), atol=1e-12, rtol=1e-12)


def test_ea_recurrence_refuses_a_second_backward():
    """Its backward reuses its buffers; a second pass over a retained graph fails loudly."""
    model = build_model("ea", N_DYN, N_STAT, hidden=HIDDEN)
    out = model(*inputs("ea")).sum()
    out.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()


# -- reference state dicts -----------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["", "module."])
@pytest.mark.parametrize("arch", ARCHS)
def test_reference_dicts_load_and_round_trip(arch, prefix):
    sd = random_reference_dict(arch, prefix=prefix)
    model = from_reference(sd, arch)
    assert (model.n_dynamic, model.n_static, model.hidden) == (N_DYN, n_static(arch), HIDDEN)
    back = to_reference(model, prefix=prefix)
    assert set(back) == set(sd)
    for key in sd:
        assert torch.allclose(back[key], sd[key], atol=0, rtol=0), key


@pytest.mark.parametrize("arch", ARCHS)
def test_reference_file_loads(arch, tmp_path):
    sd = random_reference_dict(arch, prefix="module.")
    torch.save(sd, tmp_path / "model.pt")
    model = load_reference_file(tmp_path / "model.pt", arch).eval()
    x_d, x_s = inputs(arch)
    assert torch.allclose(
        model(x_d, x_s).double(), reference_forward(sd, arch, x_d, x_s), atol=1e-5
    )


def test_bad_reference_dicts():
    sd = random_reference_dict("ea")
    with pytest.raises(ConfigError, match="lack key 'lstm.bias_s'"):
        from_reference({k: v for k, v in sd.items() if k != "lstm.bias_s"}, "ea")
    with pytest.raises(ConfigError, match="unexpected key 'lstm.bias_ann_1'"):
        from_reference(random_reference_dict("sr"), "ea")
    with pytest.raises(ConfigError, match="'lstm.bias' has shape"):
        from_reference(sd | {"lstm.bias": torch.zeros(5)}, "ea")
    with pytest.raises(ConfigError, match="'fc.weight' has odd shape"):
        from_reference(sd | {"fc.weight": torch.zeros(2, 2, 2)}, "ea")
    with pytest.raises(ConfigError, match="not a tensor"):
        from_reference(sd | {"fc.bias": [0.0]}, "ea")
    with pytest.raises(ConfigError, match="expected a state dict"):
        from_reference([1, 2], "ea")
    with pytest.raises(ConfigError, match="unknown arch 'nope'; known: ea, ct, sr, fm, lstm"):
        from_reference(sd, "nope")
    with pytest.raises(ConfigError, match="cannot infer sizes"):
        from_reference(random_reference_dict("ct"), "ct", n_dynamic=N_DYN + N_STAT)


def test_bad_reference_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_reference_file(tmp_path / "missing.pt", "ea")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ConfigError, match="junk.pt is not a readable torch state dict"):
        load_reference_file(tmp_path / "junk.pt", "ea")


# -- initialisation, shapes, determinism, arguments ----------------------------------------------
@pytest.mark.parametrize("arch", ARCHS)
def test_initialisation_is_the_reference_one(arch):
    model = build_model(arch, N_DYN, n_static(arch), hidden=HIDDEN, initial_forget_bias=5.0)
    ref = to_reference(model)
    n_gates = ref["lstm.weight_hh"].shape[1] // HIDDEN
    assert n_gates == (3 if arch in ("ea", "sr") else 4)
    assert torch.equal(ref["lstm.weight_hh"], torch.eye(HIDDEN).repeat(1, n_gates))
    expected_bias = torch.zeros(n_gates * HIDDEN)
    expected_bias[:HIDDEN] = 5.0
    assert torch.equal(ref["lstm.bias"], expected_bias)
    for key in ("lstm.weight_ih", "lstm.weight_sh", "lstm.weight_ann_1"):
        if key in ref:
            w = ref[key]
            gram = w @ w.t() if w.shape[0] <= w.shape[1] else w.t() @ w
            assert torch.allclose(gram, torch.eye(gram.shape[0]), atol=1e-5), key
    for key in ("lstm.bias_s", "lstm.bias_ann_1"):
        if key in ref:
            assert torch.equal(ref[key], torch.zeros_like(ref[key])), key


@pytest.mark.parametrize("arch", ["ct", "fm", "lstm"])
def test_forget_bias_lands_where_the_reference_puts_it(arch):
    """+5 on the first reference gate: forget for LSTM/CT, input for FM (the reference's quirk)."""
    model = build_model(arch, N_DYN, n_static(arch), hidden=HIDDEN)
    blocks = dict(
        zip("ifgo", model.lstm.bias_ih_l0.detach().chunk(4), strict=False)
    )  # nn.LSTM gate order
    hot = "i" if arch == "fm" else "f"
    for gate, block in blocks.items():
        assert torch.equal(block, torch.full((HIDDEN,), 5.0 if gate == hot else 0.0)), gate
    assert not model.lstm.bias_hh_l0.requires_grad and not model.lstm.bias_hh_l0.any()


@pytest.mark.parametrize("arch", ["ea", "ct", "lstm"])
def test_seeded_init_equals_the_original_code(arch):
    from benchmarks.baseline_models import baseline_model

    torch.manual_seed(11)
    original = baseline_model(arch, N_DYN, n_static(arch), hidden=HIDDEN).state_dict()
    torch.manual_seed(11)
    ours = to_reference(build_model(arch, N_DYN, n_static(arch), hidden=HIDDEN))
    assert set(ours) == set(original)
    for key in original:
        assert torch.equal(ours[key], original[key]), key


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("batch,steps", [(1, 1), (3, 17)])
def test_forward_shapes(arch, batch, steps):
    model = build_model(arch, N_DYN, n_static(arch), hidden=HIDDEN)
    x_d, x_s = inputs(arch, batch=batch, steps=steps)
    assert model(x_d, x_s).shape == (batch, 1)


@pytest.mark.parametrize("arch", ARCHS)
def test_deterministic_outputs_and_gradients(arch):
    def run():
        torch.manual_seed(5)
        model = build_model(
            arch, N_DYN, n_static(arch), hidden=HIDDEN, dropout=0.4
        )  # train mode: dropout on
        x_d, x_s = inputs(arch, batch=6, steps=20)
        out = model(x_d, x_s)
        out.sum().backward()
        return out.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    (out1, grads1), (out2, grads2) = run(), run()
    assert torch.equal(out1, out2)
    assert len(grads1) == len(grads2) > 0
    assert all(torch.equal(a, b) for a, b in zip(grads1, grads2, strict=False))


def test_build_model_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="unknown arch 'gru'; known: ea, ct, sr, fm, lstm"):
        build_model("gru", N_DYN, N_STAT)
    with pytest.raises(ConfigError, match="'ea' needs static inputs"):
        build_model("ea", N_DYN, 0)
    with pytest.raises(ConfigError, match="'lstm' takes no static inputs"):
        build_model("lstm", N_DYN, 3)
    with pytest.raises(ConfigError, match="dropout"):
        build_model("ct", N_DYN, N_STAT, dropout=1.5)


@pytest.mark.parametrize("arch", ARCHS)
def test_inference_path_equals_training_path(arch):
    """Evaluation (no_grad, O(B H) memory for EA/SR) gives bit-identical predictions."""
    model = from_reference(random_reference_dict(arch), arch).eval()
    x_d, x_s = inputs(arch, steps=25)
    with torch.no_grad():
        lean = model(x_d, x_s)
    assert torch.equal(lean, model(x_d, x_s).detach())
