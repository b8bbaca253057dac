"""PyTorch eager reference for the training-engine benchmark.

Trains the same network as trainyard's `base` model on 1x64x64 inputs (stages of 3x3 conv,
BatchNorm, ReLU and 2x2 max-pool with widths 16-32-64-128, then 2048 -> 128 -> classes), with
the same per-sample augmentation (quarter turn + small rotation via affine_grid/grid_sample,
brightness/contrast/gamma, Gaussian noise), AdamW with decay on weights only, and the same batch
and thread count. Prints one line: `images_per_sec <value>`.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Base(nn.Module):
    def __init__(self, channels, size, classes):
        super().__init__()
        widths, side, stages = [16, 32, 64, 128, 256], size, []
        c = channels
        while side > 6 and len(stages) < len(widths):
            w = widths[len(stages)]
            stages.append(nn.Sequential(nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w),
                                        nn.ReLU(), nn.MaxPool2d(2)))
            c, side = w, side // 2
        self.stages = nn.Sequential(*stages)
        self.fc1 = nn.Linear(c * side * side, 128)
        self.fc = nn.Linear(128, classes)

    def forward(self, x):
        return self.fc(F.relu(self.fc1(torch.flatten(self.stages(x), 1))))


def augment(x):
    n = x.shape[0]
    turns = torch.randint(4, (n,)).float()
    angle = turns * (math.pi / 2) + (torch.rand(n) * 2 - 1) * math.radians(5.0)
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros(n)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    brightness = torch.rand(n, 1, 1, 1) * 0.2 - 0.1
    contrast = torch.rand(n, 1, 1, 1) * 0.4 + 0.8
    gamma = (torch.rand(n, 1, 1, 1) * 0.5 - 0.25).exp()
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean + brightness).clamp(0, 1).pow(gamma)
    sigma = torch.rand(n, 1, 1, 1) * 0.03
    return (x + torch.randn_like(x) * sigma).clamp(0, 1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--classes", type=int, default=5)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--iterations", type=int, default=60)
    p.add_argument("--channels-last", action="store_true", help="NHWC kernels and inputs")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n = args.batch * (args.iterations + 1)
    images = torch.randint(0, 256, (n, 1, args.size, args.size), dtype=torch.uint8)
    labels = torch.randint(0, args.classes, (n,))
    model = Base(1, args.size, args.classes)
    layout = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    decay = [p for p in model.parameters() if p.dim() > 1]
    rest = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], lr=0.005)
    order = torch.randperm(n)
    model.train()
    started = None
    for it in range(args.iterations):
        if it == args.warmup:
            started = time.perf_counter()
        ix = order[it * args.batch:(it + 1) * args.batch]
        x = augment(images[ix].float() / 255.0)
        x = ((x - 0.5) / 0.25).contiguous(memory_format=layout)
        loss = F.cross_entropy(model(x), labels[ix])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for group in opt.param_groups:
            group["lr"] = 0.005 * 0.5 * (1 + math.cos(math.pi * it / args.iterations))
        opt.step()
        loss.item()
    elapsed = time.perf_counter() - started
    print(f"images_per_sec {(args.iterations - args.warmup) * args.batch / elapsed:.1f}")


if __name__ == "__main__":
    main()
