from workers.command import WorkerCommand
from workers.running import RunningConsumer


class Command(WorkerCommand):
    help = "Hold one running bot (run at least one per assistant in use, plus one spare)."
    worker_class = RunningConsumer
