"""Embedded generators: StyleGAN2 and Glow trained on procedural phantoms."""
