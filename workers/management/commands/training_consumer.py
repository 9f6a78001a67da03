from workers.command import WorkerCommand
from workers.training import TrainingConsumer


class Command(WorkerCommand):
    help = "Train queued assistant versions, one at a time (run N of these for N in parallel)."
    worker_class = TrainingConsumer
