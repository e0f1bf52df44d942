"""The ``twin`` command line (:mod:`.main`) and scenario scripts (:mod:`.scenario_file`)."""

from .main import main

__all__ = ["main"]
