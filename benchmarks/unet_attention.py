"""Probe: the SD-turbo-sized UNet alone (eager, float16, channels-last) under each attention kernel, on CUDA.

This is what chose cuDNN attention first in the GPU mode (``remix/visuals/gpu.py``). Random weights, the UNet
that ``visual_fps.py`` times (size ``sd-turbo`` of ``remix.visuals.random_pipeline``); nothing is downloaded.
Prints the mean of 10 UNet calls per kernel and batch size after 3 warm-up calls. Run on a GPU machine:
``.venv/bin/python benchmarks/unet_attention.py``.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from remix.visuals.random_pipeline import SIZES, random_components

KERNELS = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
           "efficient": SDPBackend.EFFICIENT_ATTENTION}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,32", help="batch sizes, comma-separated")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("needs CUDA: the attention kernels compared here are GPU kernels")
    torch.backends.cudnn.benchmark = True
    size = SIZES["sd-turbo"]
    unet = random_components(size, device="cuda", dtype=torch.float16).unet.to(memory_format=torch.channels_last)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}")
    for batch in (int(b) for b in args.batches.split(",")):
        x = torch.randn(batch, 4, 64, 64, device="cuda", dtype=torch.float16).contiguous(
            memory_format=torch.channels_last)
        cond = torch.randn(batch, size.tokens, size.text_hidden, device="cuda", dtype=torch.float16)
        t = torch.full((batch,), 999, device="cuda")
        for name, kernel in KERNELS.items():
            with torch.inference_mode(), sdpa_kernel(kernel):
                for _ in range(3):
                    unet(x, t, encoder_hidden_states=cond)
                torch.cuda.synchronize()
                began = time.perf_counter()
                for _ in range(10):
                    unet(x, t, encoder_hidden_states=cond)
                torch.cuda.synchronize()
            print(f"eager UNet, batch {batch}, {name} attention: {(time.perf_counter() - began) / 10 * 1000:.1f} ms")


if __name__ == "__main__":
    main()
