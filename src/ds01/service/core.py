"""The service object: loads config, hardware and store once per process, lazily."""

from __future__ import annotations

import os
from functools import cached_property  # functools is loaded anyway: _sqlite3 imports it

from ds01 import pathstr
from ds01.context import Context
from ds01.errors import ConfigError, ConfigProblem

# The compiled-form cache, and with it the configuration and hardware models, are imported
# when the configuration or the inventory is first needed: ``ds01 gpu release`` needs neither
# (annotations name their types: Config, EffectiveLimits, Inventory).


def _data_dir() -> str:
    """The package's data folder, as ``Path(__file__).resolve().parent.parent / "data"``."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "data")


def _load_config_file(path) -> Config:
    from ds01.config.loader import load_config

    return load_config(path)


def _load_description_file(path) -> Inventory:
    from ds01.hardware.simfile import load_description

    return load_description(path)


def builtin_config_path():
    """The example configuration shipped inside the package (used by ``ds01 demo``): a Path."""
    from pathlib import Path

    return Path(_data_dir()) / "resource-limits.yaml"


def _builtin_server_file(name: str) -> str:
    return pathstr.pathstr(os.path.join(_data_dir(), "servers", f"{name}.yaml"))


class Service:
    """Everything a command needs, each piece loaded on first use.

    Seams for tests: ``smi_runner`` (the nvidia-smi runner) and ``nvml_module`` (a pynvml
    stand-in); paths and the clock come from the ``Context``.
    """

    def __init__(self, ctx: Context, *, smi_runner=None, nvml_module=None, engine=None):
        self.ctx = ctx
        self._smi_runner = smi_runner
        self._nvml_module = nvml_module
        self._engine = engine

    # -- configuration -------------------------------------------------------------------
    @cached_property
    def config(self) -> Config:
        path = self.ctx.config_file
        if not pathstr.exists(path):
            raise ConfigError(
                [ConfigProblem(path, None, None, "configuration file not found")],
                hint="create it from examples/resource-limits.yaml, or point --config / "
                "DS01_CONFIG at your file",
            )
        from ds01.cache import load_cached

        return load_cached(path, _load_config_file, self._cache_dir(), "config")

    def effective(self, user: str) -> EffectiveLimits:
        cfg = self.config
        # The account database is asked only when some group matches on Unix groups: the
        # answer cannot matter otherwise, and a lookup can be slow (NSS, LDAP).
        groups = unix_groups_of(user) if any(g.unix_groups for g in cfg.groups) else ()
        return cfg.effective(user, groups)

    # -- hardware ------------------------------------------------------------------------
    @cached_property
    def inventory(self) -> Inventory:
        from ds01.cache import load_cached

        spec = self.ctx.hardware
        if spec.startswith("builtin:"):
            path = _builtin_server_file(spec.split(":", 1)[1])
            if not pathstr.exists(path):
                from ds01.hardware.sources import load_inventory

                return load_inventory(spec)  # reports the unknown name with the valid ones
            inv = load_cached(path, _load_description_file, self._cache_dir(), "hardware")
            from ds01.records import replace

            return replace(inv, source=spec)  # "builtin:NAME", not the packaged file's path
        if spec not in ("auto", "nvml", "nvidia-smi"):
            path = pathstr.pathstr(spec)
            if pathstr.exists(path):
                return load_cached(path, _load_description_file, self._cache_dir(), "hardware")
        from ds01.hardware.sources import load_inventory

        return load_inventory(spec, smi_runner=self._smi_runner, nvml_module=self._nvml_module)

    @cached_property
    def devices(self):
        from ds01.policy.devices import flatten

        return flatten(self.inventory, self.config.gpu)

    # -- state ---------------------------------------------------------------------------
    @cached_property
    def store(self):
        from ds01.state.store import Store

        return Store(self.ctx.db_file)

    # -- container engine ----------------------------------------------------------------
    @cached_property
    def engine(self):
        """The container engine client (``ds01.runtime.Engine``), or the one injected."""
        if self._engine is not None:
            return self._engine
        from ds01.runtime import Engine

        return Engine()

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        if "engine" in self.__dict__ and self._engine is None:
            self.engine.close()

    def _cache_dir(self) -> str | None:
        return self.ctx.cache_root


def unix_groups_of(user: str) -> tuple[str, ...]:
    """The Unix groups of ``user`` on this machine; none when the account does not exist."""
    import grp
    import pwd

    try:
        gid = pwd.getpwnam(user).pw_gid
    except KeyError:
        return ()
    try:
        gids = os.getgrouplist(user, gid)
    except OSError:
        gids = [gid]
    names = []
    for g in gids:
        try:
            names.append(grp.getgrgid(g).gr_name)
        except KeyError:
            continue
    return tuple(names)
