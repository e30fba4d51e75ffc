"""The official ANN backbone in PyTorch: the dilated "deep base" ResNet of MendelXu/ANN (openseg),
with the official module names (prefix.conv1 ... layerN.i.downsample.1), so its state_dict keys are
the `backbone.` lines of ../shared/reference/ann_r101_official_state_dict.txt. Importable by the
other reference scripts:

    from ann_ref_backbone import DilatedResNet
    net = DilatedResNet(depth=101)             # the official backbone
    stage4, stage5 = net(x)                    # layer3 and layer4 outputs, output stride 8

Depths 18 and 34 (basic blocks) and `width` are OURS, not the paper's: small configurations for
CPU tests. width scales every channel count c to scale_channels(c, width) = max(1, floor(c*width + 0.5))
(the block's output is that times the expansion), the rule lib/nn/resnet.ts uses.
"""
import math
from collections import OrderedDict

import torch.nn as nn

LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def scale_channels(c, width):
    return max(1, int(math.floor(c * width + 0.5)))


class BasicBlock(nn.Module):
    """OURS (depths 18/34): conv3x3-bn-relu-conv3x3-bn + shortcut; both 3x3 convs take the block's dilation."""
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, dilation=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


class Bottleneck(nn.Module):
    """The official bottleneck: 1x1, 3x3 (stride and dilation here), 1x1 x4."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, dilation=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


class DilatedResNet(nn.Module):
    def __init__(self, depth=101, width=1.0):
        super().__init__()
        if depth not in LAYERS:
            raise ValueError(f"DilatedResNet: unsupported depth {depth}")
        block = BasicBlock if depth < 50 else Bottleneck
        c = lambda n: scale_channels(n, width)  # noqa: E731
        stem = [c(64), c(64), c(128)]
        self.prefix = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, stem[0], 3, stride=2, padding=1, bias=False)),
            ("bn1", nn.BatchNorm2d(stem[0])),
            ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(stem[0], stem[1], 3, padding=1, bias=False)),
            ("bn2", nn.BatchNorm2d(stem[1])),
            ("relu2", nn.ReLU()),
            ("conv3", nn.Conv2d(stem[1], stem[2], 3, padding=1, bias=False)),
            ("bn3", nn.BatchNorm2d(stem[2])),
            ("relu3", nn.ReLU()),
        ]))
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.inplanes = stem[2]
        n = LAYERS[depth]
        self.layer1 = self._make_layer(block, c(64), n[0])
        self.layer2 = self._make_layer(block, c(128), n[1], stride=2)
        self.layer3 = self._make_layer(block, c(256), n[2], dilation=2)
        self.layer4 = self._make_layer(block, c(512), n[3], dilation=4)
        self.stage4_channels = c(256) * block.expansion
        self.stage5_channels = c(512) * block.expansion

    def _make_layer(self, block, planes, blocks, stride=1, dilation=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        # The first block of a dilated layer keeps the previous layer's dilation (1 -> 2 -> 4).
        first = 1 if dilation in (1, 2) else 2
        layers = [block(self.inplanes, planes, stride, first, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, dilation=dilation) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.prefix(x))
        x = self.layer2(self.layer1(x))
        stage4 = self.layer3(x)
        return stage4, self.layer4(stage4)
