"""PyTorch reference for ANN's blocks, with the official parameter names (MendelXu/ANN), written
from ../shared/reference/ANN-SEMANTICS.md. Importable by other fixture scripts (the full model).

- APNB (official `context.2`) and AFNB (official `fusion`): one `_SelfAttentionBlock` in
  `stages.0` (f_key = conv1x1+bias, BN, ReLU; f_query the same module in APNB, its own in AFNB;
  f_value = conv1x1+bias; W = conv1x1+bias, zero-initialised), then
  conv_bn_dropout(cat([out, x or high])): conv1x1+bias, BN+ReLU (APNB: `conv_bn_dropout.1.0`) or BN
  (AFNB: `conv_bn_dropout.1`), Dropout2d.
- Sampling of the key/value anchors (the paper's Table 7): 'pyramid-avg' (official), 'pyramid-max',
  'plain-avg' / 'plain-max' (one size n), 'pyramid-random' / 'plain-random'. Random sampling takes
  the positions (int [B, S], flat h*W+w) as a forward argument, so a test can feed PyTorch the
  positions our code drew.
- NonLocal / FusionNonLocal: the same blocks with sampling=None (S = N, every position a key).
- CommonFusion (ours, the paper's "+ Common fusion"): high + ReLU(BN(conv1x1(low), no bias)).

forward(..., trace=dict) stores query [B,N,Ck], key [B,S,Ck], value [B,S,Cv], weights [B,N,S],
context [B,Cv,H,W] (before W) and out (after W), as our modules' `trace` field.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

SAMPLINGS = ("pyramid-avg", "pyramid-max", "pyramid-random", "plain-avg", "plain-max", "plain-random")


def bn_relu(channels):
    """The official ModuleHelper.BNReLU: Sequential(BatchNorm2d, ReLU)."""
    return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())


def anchors(x, sampling, sizes, positions=None):
    """x [B,C,H,W] -> [B,C,S]: the official PSPModule for 'pyramid-avg', its variants otherwise."""
    how = sampling.split("-")[1]
    if how == "random":
        idx = positions.long()[:, None, :].expand(-1, x.shape[1], -1)
        return x.flatten(2).gather(2, idx)
    pool = F.adaptive_avg_pool2d if how == "avg" else F.adaptive_max_pool2d
    return torch.cat([pool(x, (n, n)).flatten(2) for n in sizes], -1)


class SelfAttentionBlock(nn.Module):
    """The official _SelfAttentionBlock (scale = 1): query from `high`, key and value from `low`."""

    def __init__(self, low_in, high_in, key_channels, value_channels, out_channels, shared, sampling, sizes):
        super().__init__()
        self.key_channels, self.value_channels = key_channels, value_channels
        self.sampling, self.sizes = sampling, tuple(sizes)
        self.f_key = nn.Sequential(nn.Conv2d(low_in, key_channels, 1), bn_relu(key_channels))
        self.f_query = self.f_key if shared else nn.Sequential(nn.Conv2d(high_in, key_channels, 1), bn_relu(key_channels))
        self.f_value = nn.Conv2d(low_in, value_channels, 1)
        self.W = nn.Conv2d(value_channels, out_channels, 1)
        nn.init.constant_(self.W.weight, 0)
        nn.init.constant_(self.W.bias, 0)

    def pool(self, t, positions):
        if self.sampling is None:
            return t.flatten(2)
        return anchors(t, self.sampling, self.sizes, positions)

    def forward(self, low, high, positions=None, trace=None):
        b, h, w = high.size(0), high.size(2), high.size(3)
        # The official order: value, query, key (the shared BN of APNB is called twice in training).
        value = self.pool(self.f_value(low), positions)
        query = self.f_query(high).view(b, self.key_channels, -1).permute(0, 2, 1)
        key = self.pool(self.f_key(low), positions)
        value = value.permute(0, 2, 1)
        sim = torch.matmul(query, key) * self.key_channels ** -0.5
        sim = F.softmax(sim, dim=-1)
        context = torch.matmul(sim, value).permute(0, 2, 1).contiguous()
        context = context.view(b, self.value_channels, h, w)
        out = self.W(context)
        if trace is not None:
            trace.update(query=query, key=key.permute(0, 2, 1), value=value, weights=sim, context=context, out=out)
        return out


def check_sampling(sampling, sizes):
    if sampling is None:
        return
    assert sampling in SAMPLINGS, sampling
    assert not sampling.startswith("plain") or len(sizes) == 1, "plain sampling takes one size"


class APNB(nn.Module):
    """Official APNB; the fuse conv takes out + in channels (the official 2 * in, where out = in)."""

    def __init__(self, in_channels, out_channels, key_channels, value_channels, dropout=0.05,
                 sizes=(1, 3, 6, 8), sampling="pyramid-avg"):
        super().__init__()
        check_sampling(sampling, sizes)
        self.stages = nn.ModuleList([
            SelfAttentionBlock(in_channels, in_channels, key_channels, value_channels, out_channels, True, sampling, sizes)
        ])
        self.conv_bn_dropout = nn.Sequential(
            nn.Conv2d(out_channels + in_channels, out_channels, 1), bn_relu(out_channels), nn.Dropout2d(dropout)
        )

    def forward(self, x, positions=None, trace=None):
        out = self.stages[0](x, x, positions, trace)
        return self.conv_bn_dropout(torch.cat([out, x], 1))


class AFNB(nn.Module):
    """Official AFNB: forward(low, high); key/value from low (Stage4), query from high (Stage5)."""

    def __init__(self, low_channels, high_channels, out_channels, key_channels, value_channels, dropout=0.05,
                 sizes=(1, 3, 6, 8), sampling="pyramid-avg"):
        super().__init__()
        check_sampling(sampling, sizes)
        self.stages = nn.ModuleList([
            SelfAttentionBlock(low_channels, high_channels, key_channels, value_channels, out_channels, False, sampling, sizes)
        ])
        self.conv_bn_dropout = nn.Sequential(
            nn.Conv2d(out_channels + high_channels, out_channels, 1), nn.BatchNorm2d(out_channels), nn.Dropout2d(dropout)
        )

    def forward(self, low, high, positions=None, trace=None):
        out = self.stages[0](low, high, positions, trace)
        return self.conv_bn_dropout(torch.cat([out, high], 1))


class NonLocal(APNB):
    """NB: APNB without sampling (S = N)."""

    def __init__(self, in_channels, out_channels, key_channels, value_channels, dropout=0.05):
        super().__init__(in_channels, out_channels, key_channels, value_channels, dropout, (), None)


class FusionNonLocal(AFNB):
    """FNB: AFNB without sampling (S = Hlow * Wlow)."""

    def __init__(self, low_channels, high_channels, out_channels, key_channels, value_channels, dropout=0.05):
        super().__init__(low_channels, high_channels, out_channels, key_channels, value_channels, dropout, (), None)


class CommonFusion(nn.Module):
    """Ours (the paper's "+ Common fusion" row): high + ReLU(BN(conv1x1(low -> high channels, no bias)))."""

    def __init__(self, low_channels, high_channels):
        super().__init__()
        self.conv = nn.Conv2d(low_channels, high_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(high_channels)

    def forward(self, low, high):
        return high + F.relu(self.bn(self.conv(low)))


def random_positions(sampling, sizes, height, width, batch, g):
    """Positions for the random samplers, as F.samplePositions draws them (not its stream): 'pyramid'
    one pixel uniformly inside each adaptive-pooling bin, 'plain' S distinct pixels. int32 [B, S]."""
    rows = []
    for _ in range(batch):
        if sampling == "plain-random":
            rows.append(torch.randperm(height * width, generator=g)[: sizes[0] ** 2])
            continue
        row = []
        for n in sizes:
            for i in range(n):
                h0, h1 = (i * height) // n, -((-(i + 1) * height) // n)
                for j in range(n):
                    w0, w1 = (j * width) // n, -((-(j + 1) * width) // n)
                    hh = h0 + int(torch.randint(h1 - h0, (1,), generator=g))
                    ww = w0 + int(torch.randint(w1 - w0, (1,), generator=g))
                    row.append(hh * width + ww)
        rows.append(torch.tensor(row))
    return torch.stack(rows).to(torch.int32)
