"""iraq-transition: a cited dataset of the US-led coalition's mission transition in Iraq, and its tooling."""

__version__ = "0.1.0"
