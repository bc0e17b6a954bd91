"""minigrad: a small reverse-mode autograd tensor library."""
