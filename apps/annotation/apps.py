from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "apps.annotation"
    label = "annotation"
    verbose_name = "Annotation"

    def ready(self):
        from apps.accounts.roles import Cap
        from apps.projects.navigation import Page, register

        register(
            Page(
                "annotation_dashboard",
                "Annotation",
                "annotation:dashboard",
                Cap.REVIEW_ANNOTATIONS,
            ),
            before="members",
        )
        register(
            Page("annotation_inbox", "Annotation inbox", "annotation:inbox", Cap.ANNOTATE),
            before="members",
        )
        register(
            Page(
                "annotation_review",
                "Review annotations",
                "annotation:review_list",
                Cap.REVIEW_ANNOTATIONS,
            ),
            before="members",
        )
        register(
            Page(
                "annotation_history",
                "Annotation history",
                "annotation:history",
                Cap.REVIEW_ANNOTATIONS,
            ),
            before="members",
        )
