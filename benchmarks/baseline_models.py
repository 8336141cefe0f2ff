"""Faithful baselines: the original code's models (Kratzert et al. 2019, ``papercode/ealstm.py``,
``papercode/lstm.py`` and the ``Model`` wrapper of ``main.py``), rebuilt from reference.md
section 4.

They keep the original's per-step Python loop (one ``addmm`` of h plus one ``mm`` of x per step,
bias expanded per batch, all h_t and c_t stacked), its parameter layout (state dict keys
``lstm.weight_ih`` ... ``fc.bias``, weights [n_in, n_gates*H]) and its initialisation order, so the
benchmarks can run them side by side with rvhpc's models and the tests can compare weights.

Two deliberate differences, neither changing the cost: ``ReferenceModel.forward`` returns only the
[B, 1] prediction (the original also returned h_n, c_n), and for ``concat_static`` it concatenates
x_s to every step itself (the original's dataset did that per sample).
"""

from __future__ import annotations

import torch
from torch import nn


class ReferenceEALSTM(nn.Module):
    """EA-LSTM exactly as the original: gate order f, o, g; per-step loop."""

    def __init__(
        self,
        input_size_dyn: int,
        input_size_stat: int,
        hidden_size: int,
        initial_forget_bias: float = 0.0,
    ) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.initial_forget_bias = initial_forget_bias
        self.weight_ih = nn.Parameter(torch.FloatTensor(input_size_dyn, 3 * hidden_size))
        self.weight_hh = nn.Parameter(torch.FloatTensor(hidden_size, 3 * hidden_size))
        self.weight_sh = nn.Parameter(torch.FloatTensor(input_size_stat, hidden_size))
        self.bias = nn.Parameter(torch.FloatTensor(3 * hidden_size))
        self.bias_s = nn.Parameter(torch.FloatTensor(hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.orthogonal_(self.weight_ih.data)
        nn.init.orthogonal_(self.weight_sh)
        self.weight_hh.data = torch.eye(self.hidden_size).repeat(1, 3)
        nn.init.constant_(self.bias.data, val=0)
        nn.init.constant_(self.bias_s.data, val=0)
        if self.initial_forget_bias != 0:
            self.bias.data[: self.hidden_size] = self.initial_forget_bias

    def forward(self, x_d: torch.Tensor, x_s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_d = x_d.transpose(0, 1)
        seq_len, batch_size, _ = x_d.size()
        h_0 = x_d.data.new(batch_size, self.hidden_size).zero_()
        c_0 = x_d.data.new(batch_size, self.hidden_size).zero_()
        h_x = (h_0, c_0)
        h_n, c_n = [], []
        bias_batch = self.bias.unsqueeze(0).expand(batch_size, *self.bias.size())
        bias_s_batch = self.bias_s.unsqueeze(0).expand(batch_size, *self.bias_s.size())
        i = torch.sigmoid(torch.addmm(bias_s_batch, x_s, self.weight_sh))
        for t in range(seq_len):
            h_0, c_0 = h_x
            gates = torch.addmm(bias_batch, h_0, self.weight_hh) + torch.mm(x_d[t], self.weight_ih)
            f, o, g = gates.chunk(3, 1)
            c_1 = torch.sigmoid(f) * c_0 + i * torch.tanh(g)
            h_1 = torch.sigmoid(o) * torch.tanh(c_1)
            h_n.append(h_1)
            c_n.append(c_1)
            h_x = (h_1, c_1)
        return torch.stack(h_n, 0).transpose(0, 1), torch.stack(c_n, 0).transpose(0, 1)


class ReferenceLSTM(nn.Module):
    """Standard LSTM exactly as the original: gate order f, i, o, g; per-step loop."""

    def __init__(self, input_size: int, hidden_size: int, initial_forget_bias: float = 0.0) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.initial_forget_bias = initial_forget_bias
        self.weight_ih = nn.Parameter(torch.FloatTensor(input_size, 4 * hidden_size))
        self.weight_hh = nn.Parameter(torch.FloatTensor(hidden_size, 4 * hidden_size))
        self.bias = nn.Parameter(torch.FloatTensor(4 * hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.orthogonal_(self.weight_ih.data)
        self.weight_hh.data = torch.eye(self.hidden_size).repeat(1, 4)
        nn.init.constant_(self.bias.data, val=0)
        if self.initial_forget_bias != 0:
            self.bias.data[: self.hidden_size] = self.initial_forget_bias

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.transpose(0, 1)
        seq_len, batch_size, _ = x.size()
        h_0 = x.data.new(batch_size, self.hidden_size).zero_()
        c_0 = x.data.new(batch_size, self.hidden_size).zero_()
        h_x = (h_0, c_0)
        h_n, c_n = [], []
        bias_batch = self.bias.unsqueeze(0).expand(batch_size, *self.bias.size())
        for t in range(seq_len):
            h_0, c_0 = h_x
            gates = torch.addmm(bias_batch, h_0, self.weight_hh) + torch.mm(x[t], self.weight_ih)
            f, i, o, g = gates.chunk(4, 1)
            c_1 = torch.sigmoid(f) * c_0 + torch.sigmoid(i) * torch.tanh(g)
            h_1 = torch.sigmoid(o) * torch.tanh(c_1)
            h_n.append(h_1)
            c_n.append(c_1)
            h_x = (h_1, c_1)
        return torch.stack(h_n, 0).transpose(0, 1), torch.stack(c_n, 0).transpose(0, 1)


class ReferenceModel(nn.Module):
    """The original ``Model``: EA-LSTM, or the LSTM with statics concatenated / without statics,
    then last h -> dropout -> Linear(H, 1).

    Parameters
    ----------
    input_size_dyn, input_size_stat, hidden_size, initial_forget_bias, dropout
        As in the original.
    concat_static, no_static : bool
        CT-LSTM (LSTM on [x_t, x_s]) and the plain LSTM; EA-LSTM when both are False.
    """

    def __init__(
        self,
        input_size_dyn: int,
        input_size_stat: int,
        hidden_size: int,
        initial_forget_bias: float = 5.0,
        dropout: float = 0.0,
        concat_static: bool = False,
        no_static: bool = False,
    ) -> None:
        super().__init__()
        self.concat_static, self.no_static = concat_static, no_static
        if concat_static or no_static:
            n_in = input_size_dyn + (input_size_stat if concat_static else 0)
            self.lstm = ReferenceLSTM(n_in, hidden_size, initial_forget_bias=initial_forget_bias)
        else:
            self.lstm = ReferenceEALSTM(
                input_size_dyn,
                input_size_stat,
                hidden_size,
                initial_forget_bias=initial_forget_bias,
            )
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(hidden_size, 1)

    def forward(self, x_d: torch.Tensor, x_s: torch.Tensor | None = None) -> torch.Tensor:
        """[B, T, n_dyn], [B, n_stat] -> [B, 1]."""
        if self.concat_static:
            x_d = torch.cat([x_d, x_s.unsqueeze(1).repeat(1, x_d.shape[1], 1)], dim=-1)
        if self.concat_static or self.no_static:
            h_n, _ = self.lstm(x_d)
        else:
            h_n, _ = self.lstm(x_d, x_s)
        return self.fc(self.dropout(h_n[:, -1, :]))


def baseline_model(
    arch: str,
    n_dynamic: int,
    n_static: int,
    hidden: int = 256,
    dropout: float = 0.4,
    initial_forget_bias: float = 5.0,
) -> ReferenceModel:
    """The baseline for ``ea``, ``ct`` or ``lstm`` with :func:`rvhpc.models.build_model`'s
    signature."""
    if arch not in ("ea", "ct", "lstm"):
        raise ValueError(f"no per-step baseline for arch {arch!r} (have: ea, ct, lstm)")
    return ReferenceModel(
        n_dynamic,
        n_static,
        hidden,
        initial_forget_bias=initial_forget_bias,
        dropout=dropout,
        concat_static=arch == "ct",
        no_static=arch == "lstm",
    )
