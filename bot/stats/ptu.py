"""National figures from Brå's Politikernas trygghetsundersökning (PTU), for comparison.

One place for them, with their source, so the chat, the chart, the CLI and the export say the
same. They are shares of incidents or of exposed officials in the national survey; an
organisation's shares are of its reports, so they compare in size, not exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "bra.se/ptu"
LABEL = "PTU (Brå)"


@dataclass(frozen=True)
class PtuFigure:
    """A national share (0..1), what it is a share of, and the survey year it is from."""

    share: float
    of: str
    year: str


PTU: dict[str, PtuFigure] = {
    # About one incident in six is reported to the police.
    "police.ja": PtuFigure(1 / 6, "incidents", "2024"),
    # About a quarter of those exposed avoided an issue or speaking out.
    "impact.avstod": PtuFigure(0.25, "exposed", "2024"),
    # In 2024 a quarter of those exposed considered leaving their post.
    "impact.overvagt": PtuFigure(0.25, "exposed", "2024"),
    # Share of elected officials exposed to threats, harassment, violence, vandalism or theft.
    "exposed": PtuFigure(0.25, "officials", "2024"),
}
"""Keys are `<dimension>.<code>` of the figure they compare with; `exposed` stands alone."""


def ptu_share(dim: str, code: str) -> float | None:
    figure = PTU.get(f"{dim}.{code}")
    return None if figure is None else figure.share
