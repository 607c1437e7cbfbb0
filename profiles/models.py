"""The paper's six DNNs in torch, at inference (eval mode, batch 1, random weights).

Latency does not depend on the weights, so none are loaded. Each factory returns
``(module, input_shape)``. The layouts follow the published architectures:

* ``alexnet``: torchvision's AlexNet, 224x224.
* ``tiny_yolo``: YOLOv2-tiny for VOC (9 convs, 6 max pools), 416x416 -> 13x13x125.
* ``darknet19``: the DarkNet-19 ImageNet classifier (YOLO9000 paper, Table 6), 224x224.
* ``alexnet_parallel``: the original two-tower AlexNet (Krizhevsky et al. 2012): two
  towers of 48/128/192/192/128 filters; conv3, fc6, fc7 and fc8 read both towers (the
  cross-tower connections), every other layer only its own tower. A DAG.
* ``resnet18``: torchvision's ResNet-18, 224x224. A DAG (residual adds).
* ``googlenet``: torchvision's GoogLeNet (Inception v1) without auxiliary heads and
  without input transform, 224x224. A DAG (four-branch inception blocks).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812


def _seq(*items: tuple[str, nn.Module]) -> nn.Sequential:
    return nn.Sequential(OrderedDict(items))


def _alexnet() -> nn.Module:
    r = lambda: nn.ReLU(inplace=True)  # noqa: E731
    return _seq(
        ("conv1", nn.Conv2d(3, 64, 11, 4, 2)), ("relu1", r()), ("pool1", nn.MaxPool2d(3, 2)),
        ("conv2", nn.Conv2d(64, 192, 5, padding=2)), ("relu2", r()),
        ("pool2", nn.MaxPool2d(3, 2)),
        ("conv3", nn.Conv2d(192, 384, 3, padding=1)), ("relu3", r()),
        ("conv4", nn.Conv2d(384, 256, 3, padding=1)), ("relu4", r()),
        ("conv5", nn.Conv2d(256, 256, 3, padding=1)), ("relu5", r()),
        ("pool5", nn.MaxPool2d(3, 2)), ("avgpool", nn.AdaptiveAvgPool2d((6, 6))),
        ("flatten", nn.Flatten()), ("drop6", nn.Dropout(0.5)),
        ("fc6", nn.Linear(256 * 6 * 6, 4096)), ("relu6", r()), ("drop7", nn.Dropout(0.5)),
        ("fc7", nn.Linear(4096, 4096)), ("relu7", r()), ("fc8", nn.Linear(4096, 1000)))


def _conv_bn_leaky(i: int, c_in: int, c_out: int, k: int) -> list[tuple[str, nn.Module]]:
    return [(f"conv{i}", nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)),
            (f"bn{i}", nn.BatchNorm2d(c_out)), (f"leaky{i}", nn.LeakyReLU(0.1, inplace=True))]


class _SamePool(nn.Module):
    """Darknet's 2x2 max pool with stride 1 that keeps the map size (pads right/bottom).

    One layer for the profiler (``splitgym_leaf``): the padded map is never sent.
    """

    splitgym_leaf = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.pad(x, (0, 1, 0, 1), mode="replicate"), 2, 1)


def _tiny_yolo() -> nn.Module:
    items: list[tuple[str, nn.Module]] = []
    c = 3
    for i, out in enumerate((16, 32, 64, 128, 256, 512), 1):
        items += _conv_bn_leaky(i, c, out, 3)
        items.append((f"pool{i}", nn.MaxPool2d(2, 2) if i < 6 else _SamePool()))
        c = out
    items += _conv_bn_leaky(7, 512, 1024, 3) + _conv_bn_leaky(8, 1024, 1024, 3)
    items.append(("conv9", nn.Conv2d(1024, 125, 1)))  # 5 anchors x (20 classes + 5), linear
    return _seq(*items)


def _darknet19() -> nn.Module:
    # Table 6 of the YOLO9000 paper: a number is a 3x3 conv, a negative number a 1x1
    # conv, "M" a 2x2/2 max pool; then a 1x1 conv to 1000 classes and a global avg pool.
    plan: list[int | str] = [32, "M", 64, "M", 128, -64, 128, "M", 256, -128, 256, "M",
                             512, -256, 512, -256, 512, "M", 1024, -512, 1024, -512, 1024]
    items: list[tuple[str, nn.Module]] = []
    c, n_conv, n_pool = 3, 0, 0
    for p in plan:
        if p == "M":
            n_pool += 1
            items.append((f"pool{n_pool}", nn.MaxPool2d(2, 2)))
        else:
            n_conv += 1
            out = abs(int(p))
            items += _conv_bn_leaky(n_conv, c, out, 1 if int(p) < 0 else 3)
            c = out
    items += [("conv19", nn.Conv2d(1024, 1000, 1)), ("avgpool", nn.AdaptiveAvgPool2d(1)),
              ("flatten", nn.Flatten())]
    return _seq(*items)


class AlexNetParallel(nn.Module):
    """Two-tower AlexNet (2012) with its cross-tower connections."""

    def __init__(self) -> None:
        super().__init__()
        relu = nn.ReLU(inplace=True)

        def tower() -> nn.ModuleDict:
            return nn.ModuleDict({
                "conv1": nn.Conv2d(3, 48, 11, 4, 2), "conv2": nn.Conv2d(48, 128, 5, padding=2),
                "conv3": nn.Conv2d(256, 192, 3, padding=1),
                "conv4": nn.Conv2d(192, 192, 3, padding=1),
                "conv5": nn.Conv2d(192, 128, 3, padding=1),
                "fc6": nn.Linear(2 * 128 * 6 * 6, 2048), "fc7": nn.Linear(4096, 2048),
                "pool1": nn.MaxPool2d(3, 2), "pool2": nn.MaxPool2d(3, 2),
                "pool5": nn.MaxPool2d(3, 2)})

        self.a, self.b = tower(), tower()
        self.relu = relu
        self.fc8 = nn.Linear(4096, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b, r = self.a, self.b, self.relu
        xa = a["pool2"](r(a["conv2"](a["pool1"](r(a["conv1"](x))))))
        xb = b["pool2"](r(b["conv2"](b["pool1"](r(b["conv1"](x))))))
        both = torch.cat([xa, xb], 1)
        xa = a["pool5"](r(a["conv5"](r(a["conv4"](r(a["conv3"](both)))))))
        xb = b["pool5"](r(b["conv5"](r(b["conv4"](r(b["conv3"](both)))))))
        both = torch.cat([torch.flatten(xa, 1), torch.flatten(xb, 1)], 1)
        both = torch.cat([r(a["fc6"](both)), r(b["fc6"](both))], 1)
        both = torch.cat([r(a["fc7"](both)), r(b["fc7"](both))], 1)
        return self.fc8(both)


class _BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                            nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """torchvision's ResNet-18 layout."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        chans = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
        for i, (c_in, c_out, s) in enumerate(chans, 1):
            setattr(self, f"layer{i}", nn.Sequential(_BasicBlock(c_in, c_out, s),
                                                     _BasicBlock(c_out, c_out, 1)))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class _BasicConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, pad: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride, pad, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class _Inception(nn.Module):
    def __init__(self, c_in: int, c1: int, c3r: int, c3: int, c5r: int, c5: int,
                 pool: int) -> None:
        super().__init__()
        self.branch1 = _BasicConv(c_in, c1, 1)
        self.branch2 = nn.Sequential(_BasicConv(c_in, c3r, 1), _BasicConv(c3r, c3, 3, pad=1))
        # torchvision uses a 3x3 where the paper has 5x5 (kept for compatibility)
        self.branch3 = nn.Sequential(_BasicConv(c_in, c5r, 1), _BasicConv(c5r, c5, 3, pad=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True),
                                     _BasicConv(c_in, pool, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x),
                          self.branch4(x)], 1)


class GoogLeNet(nn.Module):
    """torchvision's GoogLeNet without auxiliary heads (inference)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _BasicConv(3, 64, 7, 2, 3)
        self.maxpool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = _BasicConv(64, 64, 1)
        self.conv3 = _BasicConv(64, 192, 3, pad=1)
        self.maxpool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception3a = _Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = _Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception4a = _Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = _Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = _Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = _Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = _Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.inception5a = _Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = _Inception(832, 384, 192, 384, 48, 128, 128)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1024, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for name in ("4a", "4b", "4c", "4d", "4e"):
            x = getattr(self, f"inception{name}")(x)
        x = self.inception5b(self.inception5a(self.maxpool4(x)))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


#: name -> (factory, input shape (N, C, H, W))
MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "alexnet": (_alexnet, (1, 3, 224, 224)),
    "tiny_yolo": (_tiny_yolo, (1, 3, 416, 416)),
    "darknet19": (_darknet19, (1, 3, 224, 224)),
    "alexnet_parallel": (AlexNetParallel, (1, 3, 224, 224)),
    "resnet18": (ResNet18, (1, 3, 224, 224)),
    "googlenet": (GoogLeNet, (1, 3, 224, 224)),
}


def build(name: str, seed: int = 0) -> tuple[nn.Module, tuple[int, ...]]:
    """The named model in eval mode (random weights from `seed`) and its input shape."""
    try:
        factory, shape = MODELS[name]
    except KeyError:
        raise ValueError(f"model={name!r}: unknown model; known: {sorted(MODELS)}") from None
    torch.manual_seed(seed)
    return factory().eval(), shape
