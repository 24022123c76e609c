"""Embedded generators trained on procedural phantoms: StyleGAN2 and Glow, shipped with checksums.

``load("stylegan2-phantom64")`` / ``load("glow-phantom64")`` return frozen eval-mode models.
``stylegan2-phantom64-smooth`` / ``glow-phantom64-smooth`` are the first models (smooth phantoms; the
StyleGAN2 is ``gausslib.generators.stylegan2_lite``); until the v2 weights ship, the plain names are aliases of them.
``Generator`` / ``Discriminator`` / ``StyleGAN2Config`` are the official architecture (``gausslib.generators.stylegan2``);
``load_official`` reads NVlabs' own StyleGAN2 pickles into it (``gausslib.generators.official``).
"""
from gausslib.generators.glow import Glow, GlowConfig
from gausslib.generators.official import load_official
from gausslib.generators.stylegan2 import Discriminator, Generator, StyleGAN2Config
from gausslib.generators.zoo import available, load

__all__ = ["Discriminator", "Generator", "Glow", "GlowConfig", "StyleGAN2Config", "available", "load", "load_official"]
