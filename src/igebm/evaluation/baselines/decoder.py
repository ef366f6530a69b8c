"""The feed-forward baseline of the composition experiment: a conditional decoder trained with MSE.

(size, x, y) -> image, trained on the union of the two splits (shapes_size and
shapes_position), as the paper's baseline. A sigmoid output keeps it in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConditionalDecoder(nn.Module):
    def __init__(self, num_attributes: int = 3, resolution: int = 16, width: int = 32, hidden: int = 128):
        super().__init__()
        self.base = resolution // 4
        self.width = width
        self.fc = nn.Sequential(nn.Linear(num_attributes, hidden), nn.SiLU(),
                                nn.Linear(hidden, 2 * width * self.base ** 2), nn.SiLU())
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2), nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.SiLU(),
            nn.Upsample(scale_factor=2), nn.Conv2d(2 * width, width, 3, padding=1), nn.SiLU(),
            nn.Conv2d(width, 1, 3, padding=1))

    def forward(self, attrs: torch.Tensor) -> torch.Tensor:
        h = self.fc(attrs).view(len(attrs), 2 * self.width, self.base, self.base)
        return torch.sigmoid(self.up(h))


def train_decoder(x: torch.Tensor, attrs: torch.Tensor, resolution: int = 16, width: int = 32,
                  epochs: int = 40, seed: int = 0, lr: float = 1e-3) -> ConditionalDecoder:
    torch.manual_seed(seed)
    model = ConditionalDecoder(attrs.shape[1], resolution, width)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(128):
            loss = F.mse_loss(model(attrs[idx]), x[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()
