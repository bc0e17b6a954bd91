"""Test support shipped with the package: the op registry shared by `minigrad gradcheck`
and the test suite."""
