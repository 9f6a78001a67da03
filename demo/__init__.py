"""Demo and benchmark data: the Harbor Bank assistant, the reference assistant generator and
sample conversations. Pure data and generators: nothing here imports Studio or the engine."""

from pathlib import Path

#: The Harbor Bank demo assistant's project folder (config.yml, domain/, data/, actions/...).
HARBOR_BANK = Path(__file__).resolve().parent / "harbor_bank"
