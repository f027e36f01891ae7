"""Adam over flat parameter groups: the same update with one kernel per op instead of one per tensor.

`torch.optim.Adam` (single-tensor, the CPU default) runs about ten
element-wise kernels per parameter tensor per step, 110 for a CNN-k, each
with its Python and dispatch cost. The update is element-wise, so running it
once over all the tensors of a parameter group laid end to end gives the
same bits (tested against `torch.optim.Adam` on the zoo models), with a
tenth of the kernel launches.

`FlatAdam` wraps a freshly built `torch.optim.Adam`: it lays each parameter
group out in one flat buffer (the module's parameters become views into it),
`gather_grads` moves the parameters' gradients into the buffers' ``grad``
after backward, and ``adam`` (a `torch.optim.Adam` over the flat buffers, with
the same hyper-parameters per group) steps them; schedulers and GradScaler
take ``adam``. `release` gives every parameter its own storage again, so the
trained module is an ordinary one (no parameter aliases another's buffer or
keeps the whole flat buffer alive when saved or copied alone).
"""
from __future__ import annotations

import torch
from torch import nn


class FlatAdam:
    """A `torch.optim.Adam` whose parameter groups are each stepped as one tensor.

    Parameters
    ----------
    optimizer : torch.optim.Adam
        Built and not yet stepped; its parameters (on one device and dtype per
        group) are rebound to views of the flat buffers. It is not used after.
    """

    def __init__(self, optimizer: torch.optim.Adam) -> None:
        if not isinstance(optimizer, torch.optim.Adam) or optimizer.state:
            raise TypeError("FlatAdam wraps a torch.optim.Adam that has not stepped yet")
        self._groups: list[tuple[torch.Tensor, list[nn.Parameter]]] = []
        flat_groups = []
        for group in optimizer.param_groups:
            params = [p for p in group["params"] if p.requires_grad]
            if not params:
                continue
            kinds = {(p.dtype, p.device) for p in params}
            if len(kinds) > 1:  # one flat tensor per group: mixing would silently promote (other numbers)
                raise ValueError(f"FlatAdam needs one dtype and device per parameter group, got {sorted(map(str, kinds))}")
            with torch.no_grad():
                flat = torch.cat([p.detach().reshape(-1) for p in params])
            offset = 0
            for p in params:
                p.data = flat[offset : offset + p.numel()].view_as(p)
                offset += p.numel()
            self._groups.append((flat, params))
            flat_groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": [flat]})
        self.adam = torch.optim.Adam(flat_groups, **optimizer.defaults)

    @property
    def param_groups(self) -> list[dict]:
        return self.adam.param_groups

    def zero_grad(self) -> None:
        """Drop every gradient (the parameters' and the flat buffers')."""
        for flat, params in self._groups:
            flat.grad = None
            for p in params:
                p.grad = None

    def gather_grads(self) -> None:
        """Move the parameters' gradients into the flat buffers' ``grad`` (after backward, before stepping)."""
        for flat, params in self._groups:
            missing = [tuple(p.shape) for p in params if p.grad is None]
            if missing:
                # torch.optim.Adam would skip them; one flat step cannot, so say so instead of decaying them
                raise RuntimeError(f"FlatAdam: parameters of shapes {missing} got no gradient this step")
            flat.grad = torch.cat([p.grad.reshape(-1) for p in params])
            for p in params:
                p.grad = None

    def step(self) -> None:
        """`gather_grads`, then one Adam step over the flat buffers."""
        self.gather_grads()
        self.adam.step()

    def release(self) -> None:
        """Give every parameter its own storage again (a copy of its current values)."""
        for _flat, params in self._groups:
            for p in params:
                p.data = p.data.clone()
        self._groups = []
