from django.contrib.auth.hashers import Argon2PasswordHasher


class OWASPArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with the OWASP minimum parameters (m=19 MiB, t=2, p=1).

    Django's defaults (100 MiB, p=8) cost ~140 ms a hash on the 2-core
    machines we run on; these keep sign-in throughput under load while
    staying within OWASP's recommendation. Parameters are stored in each
    hash, so raising them later re-hashes on the next sign-in.
    """

    time_cost = 2
    memory_cost = 19 * 1024
    parallelism = 1
