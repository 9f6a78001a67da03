from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "apps.training"
    label = "training"
    verbose_name = "Training and running"

    def ready(self):
        from apps.accounts.roles import Cap
        from apps.projects.navigation import Page, register
        from apps.projects.services import assistant_deleting
        from apps.training.services import forget_model_files_of

        assistant_deleting.connect(forget_model_files_of, dispatch_uid="training-model-files")

        register(Page("train", "Train", "training:train", Cap.TRAIN), before="members")
        register(Page("versions", "Versions", "training:versions", Cap.TRY), before="members")
        register(Page("try", "Try your assistant", "training:try", Cap.TRY), before="members")
