"""AWS FIS in localcloud: StartExperiment really runs the experiment's actions against the cloud's physics.

moto keeps FIS templates and experiments as records whose state advances by itself; here an experiment
resolves its targets, acts, and goes initiating -> running -> completed (stopped by StopExperiment,
failed with its reason). See `service` for the patches, `actions` for what each action does.
"""

from localcloud.fis.actions import ACTIONS
from localcloud.fis.service import FisService, fis_services

__all__ = ["ACTIONS", "FisService", "fis_services"]
