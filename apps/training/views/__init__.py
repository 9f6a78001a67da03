"""The training app's pages: training and versions (`versions`), and Try your assistant
(`try_views`)."""
