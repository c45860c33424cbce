"""Only the optional C hot loop; metadata lives in setup.cfg.

``optional=True``: where it cannot be compiled, fdcheck installs anyway and
uses the same loop in Python (fdcheck.evaluate), only slower on cheap functions.
"""
import numpy
from setuptools import Extension, setup

setup(ext_modules=[Extension("fdcheck._hotloop", ["fdcheck/_hotloop.c"],
                             include_dirs=[numpy.get_include()], optional=True)])
