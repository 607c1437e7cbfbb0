"""Measure a torch model layer by layer and write a `splitgym-profile/1` profile.

The graph is captured with ``torch.fx.symbolic_trace`` and grouped into *layers*, each
a cut point whose output is a real tensor a system would send:

* batch-norm, activations (ReLU, LeakyReLU, ...), dropout, identity, flatten/view and
  an adaptive average pool that keeps the shape are fused into the layer they follow
  (when that layer feeds nothing else); a view of the model input is the input;
* ``torch.cat`` is not a layer: its consumers read the concatenated tensors directly
  (a cut sends each of them once), and its copy time is charged to its first consumer;
* every other op (conv, linear, pool, residual add, ...) starts a layer.

Latency: the captured graph runs node by node under an ``fx.Interpreter``; each
node's wall time is taken with ``time.perf_counter`` (with ``torch.cuda.synchronize``
around it on CUDA), after warm-up runs, over several repeats; a layer's latency is the
median over repeats of the sum of its nodes' times. FLOPs are
``torch.utils.flop_counter.FlopCounterMode``'s count (2 per multiply-add of conv,
linear and matmul; pooling, normalisation and activations count 0).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp
from torch.utils.flop_counter import FlopCounterMode

_FUSE_MODULES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU,
                 nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Dropout, nn.Identity,
                 nn.Flatten, nn.LocalResponseNorm)
_FUSE_FUNCTIONS = {torch.relu, torch.nn.functional.relu, torch.nn.functional.leaky_relu,
                   torch.nn.functional.dropout, torch.flatten, torch.sigmoid, torch.tanh,
                   torch.nn.functional.gelu, torch.nn.functional.silu}
_FUSE_METHODS = {"relu", "relu_", "flatten", "view", "reshape", "sigmoid", "contiguous"}
# Ops that only re-view a tensor: applied to the model input they are the input.
_VIEW_MODULES = (nn.Flatten, nn.Identity, nn.Dropout)
_VIEW_CALLS = {torch.flatten, torch.nn.functional.dropout, "flatten", "view", "reshape",
               "contiguous"}


@dataclass
class CapturedLayer:
    """One layer of a captured graph (a group of fx nodes)."""

    name: str
    nodes: list[fx.Node]
    inputs: list[str] = field(default_factory=list)
    op: str = ""
    output_shape: tuple[int, ...] = ()
    output_bytes: int = 0
    flops: float = 0.0
    params: int = 0
    latency_ms: float = math.nan


def _is_cat(node: fx.Node) -> bool:
    return node.op == "call_function" and node.target in (torch.cat, torch.concat)


def _fusable(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    if node.op == "call_module":
        mod = modules[str(node.target)]
        if isinstance(mod, nn.AdaptiveAvgPool2d):
            src = node.args[0]
            return isinstance(src, fx.Node) and _shape(src) == _shape(node)
        return isinstance(mod, _FUSE_MODULES)
    if node.op == "call_function":
        return node.target in _FUSE_FUNCTIONS
    if node.op == "call_method":
        return node.target in _FUSE_METHODS
    return False


def _is_view(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    if node.op == "call_module":
        return isinstance(modules[str(node.target)], _VIEW_MODULES)
    return node.op in ("call_function", "call_method") and node.target in _VIEW_CALLS


def _shape(node: fx.Node) -> tuple[int, ...]:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else ()


def _op_name(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    if node.op == "call_module":
        return type(modules[str(node.target)]).__name__.lower()
    if node.op == "call_function":
        return getattr(node.target, "__name__", str(node.target)).lower()
    return str(node.target)


def _layer_name(node: fx.Node, taken: set[str]) -> str:
    if node.op == "call_module":
        base = str(node.target)
    else:
        stack = node.meta.get("nn_module_stack") or {}
        scope = list(stack.values())[-1][0] if stack else ""
        op = getattr(node.target, "__name__", str(node.target))
        base = f"{scope}.{op}" if scope else node.name
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


class _Tracer(fx.Tracer):
    """torch.fx's tracer, keeping modules marked ``splitgym_leaf = True`` as one node."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return getattr(m, "splitgym_leaf", False) or super().is_leaf_module(m, qualname)


def capture(module: nn.Module, example: torch.Tensor, count_flops: bool = True) -> tuple[
        fx.GraphModule, list[CapturedLayer]]:
    """Trace `module` on `example` and group its graph into layers (see module doc);
    without `count_flops` each layer's ``flops`` stays 0 (a second of the capture's
    time on AlexNet: the testbed's processes need only the graph)."""
    gm = fx.GraphModule(module, _Tracer().trace(module))
    ShapeProp(gm).propagate(example)
    modules = dict(gm.named_modules())
    layer_of: dict[fx.Node, CapturedLayer] = {}
    sources: dict[fx.Node, list[str]] = {}  # what a node's value is, in layer names
    layers: list[CapturedLayer] = []
    taken: set[str] = set()
    pending_cat: dict[fx.Node, list[fx.Node]] = {}
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            sources[node] = ["input"]
            continue
        if node.op in ("output", "get_attr"):
            continue
        if _is_cat(node):
            srcs: list[str] = []
            for arg in node.args[0]:
                srcs += [s for s in sources[arg] if s not in srcs]
            sources[node] = srcs
            pending_cat[node] = [node]
            continue
        producer = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
        if producer is not None and producer.op == "placeholder" and _is_view(node, modules):
            sources[node] = sources[producer]  # a view of the input is the input
            continue
        if (producer is not None and _fusable(node, modules) and producer in layer_of
                and len(producer.users) == 1):
            layer = layer_of[producer]
            layer.nodes.append(node)
            layer.op += "+" + _op_name(node, modules)
        else:
            layer = CapturedLayer(name=_layer_name(node, taken), nodes=[node],
                                  op=_op_name(node, modules))
            for arg in node.all_input_nodes:
                for src in sources.get(arg, []):
                    if src not in layer.inputs:
                        layer.inputs.append(src)
                if arg in pending_cat:  # charge the copy to the first consumer
                    layer.nodes[:0] = pending_cat.pop(arg)
            layers.append(layer)
        layer_of[node] = layer
        sources[node] = [layer.name]
    for layer in layers:
        last = layer.nodes[-1]
        meta = last.meta["tensor_meta"]
        layer.output_shape = tuple(int(s) for s in meta.shape)
        layer.output_bytes = math.prod(layer.output_shape) * meta.dtype.itemsize
        layer.params = sum(p.numel() for n in layer.nodes if n.op == "call_module"
                           for p in modules[str(n.target)].parameters(recurse=False))
    if count_flops:
        _count_flops(gm, example, layers)
    return gm, layers


class _NodeRunner(fx.Interpreter):
    """Runs the graph node by node, calling `hook(node, run)` around each."""

    def __init__(self, gm: fx.GraphModule,
                 hook: Callable[[fx.Node, Callable[[], Any]], Any]) -> None:
        super().__init__(gm)
        self._hook = hook

    def run_node(self, n: fx.Node) -> Any:
        return self._hook(n, lambda: super(_NodeRunner, self).run_node(n))


def _count_flops(gm: fx.GraphModule, example: torch.Tensor,
                 layers: list[CapturedLayer]) -> None:
    per_node: dict[fx.Node, float] = {}

    def hook(node: fx.Node, run: Callable[[], Any]) -> Any:
        with FlopCounterMode(display=False) as counter:
            out = run()
        per_node[node] = float(counter.get_total_flops())
        return out

    with torch.no_grad():
        _NodeRunner(gm, hook).run(example)
    for layer in layers:
        layer.flops = sum(per_node.get(n, 0.0) for n in layer.nodes)


def measure(gm: fx.GraphModule, example: torch.Tensor, layers: list[CapturedLayer],
            repeats: int = 20, warmup: int = 3, progress: bool = False,
            desc: str = "profile") -> list[float]:
    """Fill each layer's ``latency_ms``: median over `repeats` of its nodes' summed time.
    Returns each repeat's sum over the layers [ms] (the whole model, repeat by repeat:
    their spread says how steady the machine was)."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats={repeats}, warmup={warmup}: need repeats >= 1, warmup >= 0")
    cuda = example.is_cuda
    times: dict[fx.Node, float] = {}

    def hook(node: fx.Node, run: Callable[[], Any]) -> Any:
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = run()
        if cuda:
            torch.cuda.synchronize()
        times[node] = time.perf_counter() - t0
        return out

    runner = _NodeRunner(gm, hook)
    samples: list[list[float]] = [[] for _ in layers]
    from tqdm.auto import tqdm

    with torch.no_grad():
        for i in tqdm(range(warmup + repeats), desc=desc, unit="run", disable=not progress,
                      leave=False):
            times.clear()
            runner.run(example)
            if i < warmup:
                continue
            for k, layer in enumerate(layers):
                samples[k].append(sum(times[n] for n in layer.nodes))
    for layer, s in zip(layers, samples, strict=True):
        layer.latency_ms = 1000.0 * statistics.median(s)
    return [1000.0 * sum(run) for run in zip(*samples, strict=True)] if layers else []


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(torch_device: str, repeats: int, warmup: int) -> dict[str, Any]:
    """Where and how a measurement was taken (for a profile's provenance)."""
    env: dict[str, Any] = {
        "machine": platform.node(), "platform": platform.platform(),
        "cpu_model": cpu_model(), "cpu_count": os.cpu_count(),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "torch_device": torch_device, "repeats": repeats, "warmup": warmup,
        "statistic": "median over repeats of per-layer wall time",
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if torch_device.startswith("cuda"):
        dev = torch.device(torch_device)
        env["gpu_model"] = torch.cuda.get_device_name(dev)
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
        env["tf32_conv"] = bool(torch.backends.cudnn.allow_tf32)
        env["tf32_matmul"] = bool(torch.backends.cuda.matmul.allow_tf32)
        env["timing"] = ("torch.cuda.synchronize() before and after each node, so each "
                         "layer's time includes its kernel launches (batch 1)")
    return env
