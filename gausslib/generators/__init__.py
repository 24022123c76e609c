"""Embedded generators trained on procedural phantoms: StyleGAN2 and Glow, shipped with checksums.

``load("stylegan2-phantom64")`` / ``load("glow-phantom64")`` return frozen eval-mode models.
"""
from gausslib.generators.glow import Glow, GlowConfig
from gausslib.generators.stylegan2 import Discriminator, Generator, StyleGAN2Config
from gausslib.generators.zoo import available, load

__all__ = ["Discriminator", "Generator", "Glow", "GlowConfig", "StyleGAN2Config", "available", "load"]
