"""`manage.py rotate_signing_key`: replace the key that signs the sign-in realm's tokens.

Tokens signed with the previous key stay valid until they expire (the JWKS keeps its public
half until then); new tokens are signed with the new key. Run it on a schedule, or at once if
the database (and the key encrypting the private key) may have leaked.
"""

from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.accounts import signing


class Command(BaseCommand):
    help = "Make a new key to sign the sign-in realm's tokens; old tokens last until they expire."

    def handle(self, *args, **options):
        new, old = signing.rotate()
        self.stdout.write(f"New signing key {new.kid}.")
        if old is not None:
            self.stdout.write(
                f"Previous key {old.kid} stays published, and its tokens valid, until "
                f"{timezone.localtime(old.published_until):%Y-%m-%d %H:%M %Z}."
            )
