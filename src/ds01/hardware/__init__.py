"""The GPU inventory: plain models (``model``) and the sources that fill them.

Sources: ``nvml`` (nvidia-ml-py), ``smi`` (the nvidia-smi command), ``simfile`` (a hardware
description file: a simulated server). ``sources.load_inventory`` picks one.
"""
