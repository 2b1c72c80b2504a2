"""Reference CNNs for the TVM benchmarks, written in plain PyTorch (torchvision is not needed).

ResNet-18/50 v1 and MobileNetV2 1.0 follow torchvision's layer layout, so their ONNX exports have
the same op mix and cost as the model-zoo files. Weights are random (seeded); BN statistics are
randomised too so that BN folding is really exercised.
"""
from __future__ import annotations

import os


def _torch():
    import torch

    return torch


def _resnet(block_counts, bottleneck):
    torch = _torch()
    nn = torch.nn

    class Basic(nn.Module):
        expansion = 1

        def __init__(self, cin, c, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)
            self.down = None
            if stride != 1 or cin != c:
                self.down = nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return torch.relu(y + (x if self.down is None else self.down(x)))

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, cin, c, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, c, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = nn.Conv2d(c, c, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)
            self.conv3 = nn.Conv2d(c, c * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(c * 4)
            self.down = None
            if stride != 1 or cin != c * 4:
                self.down = nn.Sequential(nn.Conv2d(cin, c * 4, 1, stride, bias=False), nn.BatchNorm2d(c * 4))

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = torch.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            return torch.relu(y + (x if self.down is None else self.down(x)))

    blk = Bottleneck if bottleneck else Basic

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                      nn.MaxPool2d(3, 2, 1))
            layers, cin = [], 64
            for i, n in enumerate(block_counts):
                c = 64 * 2 ** i
                for j in range(n):
                    layers.append(blk(cin, c, 2 if (j == 0 and i > 0) else 1))
                    cin = c * blk.expansion
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(cin, 1000)

        def forward(self, x):
            x = self.layers(self.stem(x))
            return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))

    return ResNet()


def _mobilenet_v2():
    torch = _torch()
    nn = torch.nn

    def cbr(cin, cout, k, s, groups=1):
        return [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout),
                nn.ReLU6()]

    class Inverted(nn.Module):
        def __init__(self, cin, cout, s, t):
            super().__init__()
            hid = cin * t
            layers = [] if t == 1 else cbr(cin, hid, 1, 1)
            layers += cbr(hid, hid, 3, s, groups=hid)
            layers += [nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
            self.body = nn.Sequential(*layers)
            self.res = s == 1 and cin == cout

        def forward(self, x):
            return x + self.body(x) if self.res else self.body(x)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                   (6, 320, 1, 1)]
            layers, cin = cbr(3, 32, 3, 2), 32
            for t, c, n, s in cfg:
                for i in range(n):
                    layers.append(Inverted(cin, c, s if i == 0 else 1, t))
                    cin = c
            layers += cbr(cin, 1280, 1, 1)
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Linear(1280, 1000)

        def forward(self, x):
            x = self.features(x)
            return self.classifier(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))

    return MobileNetV2()


BUILDERS = {
    "resnet18": lambda: _resnet([2, 2, 2, 2], False),
    "resnet50": lambda: _resnet([3, 4, 6, 3], True),
    "mobilenetv2": _mobilenet_v2,
}


def torch_model(name: str, seed: int = 0):
    torch = _torch()
    torch.manual_seed(seed)
    model = BUILDERS[name]()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    return model.eval()


def export_onnx(name: str, path: str, batch: int = 1, opset: int = 13) -> str:
    """Write ``name`` as an ONNX file with input ``data`` (batch, 3, 224, 224); returns the path."""
    torch = _torch()
    model = torch_model(name)
    x = torch.zeros(batch, 3, 224, 224)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    kwargs = dict(input_names=["data"], output_names=["output"], opset_version=opset, do_constant_folding=True)
    try:
        torch.onnx.export(model, (x,), path, dynamo=False, **kwargs)
    except TypeError:  # older torch without the dynamo switch
        torch.onnx.export(model, (x,), path, **kwargs)
    return path
