"""gausslib: differentiable Gaussianization layers for inverse problems with deep generative priors."""

__version__ = "0.1.0"
