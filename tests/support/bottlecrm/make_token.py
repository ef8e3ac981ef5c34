"""Makes the account a test uses on a fresh BottleCRM and prints its credentials.

Run by scripts/bottlecrm.sh with the server's environment (DJANGO_SETTINGS_MODULE,
BOTTLECRM_DB):  python make_token.py EMAIL ORG_NAME
Creates a user, an org and an ADMIN profile of that user in it, then prints one JSON
object on the last line of stdout:
  pat          personal access token (bcrm_pat_...), sent as `Authorization: Bearer`;
               full access to records, refused (403) on /api/webhooks/ and every other
               credential path
  api_key      the org API key, sent as `Token: <key>`; read-only (GET) and refused on
               the same credential paths
  jwt_access   signed-in-session access token (1 hour), `Authorization: Bearer`; the
               only kind that may manage /api/webhooks/
  jwt_refresh  its refresh token (14 days, single use: POST /api/auth/refresh-token/
               {"refresh": ...} answers a new access and a new refresh token)
  org_id, user_id, profile_id, email
"""

import json
import sys

import django

django.setup()

from common.models import Org, PersonalAccessToken, Profile, User  # noqa: E402
from common.serializer import OrgAwareRefreshToken  # noqa: E402


def main(email, org_name):
    user, _ = User.objects.get_or_create(email=email, defaults={"name": "Tandem Test"})
    user.set_unusable_password()
    user.save()
    org = Org.objects.filter(name=org_name).first() or Org.objects.create(name=org_name)
    profile, _ = Profile.objects.get_or_create(user=user, org=org)
    # `is_organization_admin` follows from the role in Profile.save, as in the org
    # creation view (common/views/organization_views.py).
    profile.role = "ADMIN"
    profile.is_active = True
    profile.save()
    pat, _ = PersonalAccessToken.generate(profile, "tandem-tests")
    refresh = OrgAwareRefreshToken.for_user_and_org(user, org, profile)
    print(
        json.dumps(
            {
                "pat": pat,
                "api_key": org.api_key,
                "jwt_access": str(refresh.access_token),
                "jwt_refresh": str(refresh),
                "org_id": str(org.id),
                "user_id": str(user.id),
                "profile_id": str(profile.id),
                "email": email,
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_token.py EMAIL ORG_NAME")
    main(sys.argv[1], sys.argv[2])
