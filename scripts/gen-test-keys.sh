#!/usr/bin/env bash
# Regenerates the TEST-ONLY JWT keys and tokens in tests/fixtures/jwt/.
# These keys are public test fixtures: never use them for anything real.
# Needs openssl and Python with PyJWT + cryptography (pip install pyjwt cryptography);
# the tokens are made by PyJWT, an independent implementation, to prove interop.
set -euo pipefail
cd "$(dirname "$0")/../tests/fixtures/jwt"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out TEST-ONLY-rsa-private.pem 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out TEST-ONLY-ec-private.pem 2>/dev/null
openssl genpkey -algorithm ED25519 -out TEST-ONLY-ed25519-private.pem 2>/dev/null
python3 - <<'PY'
import json, jwt
from jwt.algorithms import RSAAlgorithm, ECAlgorithm, OKPAlgorithm
from cryptography.hazmat.primitives.serialization import load_pem_private_key
def load(p): return load_pem_private_key(open(p, "rb").read(), None)
rsa, ec, ed = load("TEST-ONLY-rsa-private.pem"), load("TEST-ONLY-ec-private.pem"), load("TEST-ONLY-ed25519-private.pem")
keys = []
for k, alg, kid, A in [(rsa, "RS256", "example", RSAAlgorithm), (ec, "ES256", "ec-1", ECAlgorithm), (ed, "EdDSA", "ed-1", OKPAlgorithm)]:
    j = json.loads(A.to_jwk(k.public_key())); j["alg"] = alg; j["kid"] = kid; j["use"] = "sig"; keys.append(j)
# The same RSA key again, pinned to PS256 under its own kid (a key verifies one alg).
ps = dict(keys[0]); ps["alg"] = "PS256"; ps["kid"] = "rsa-ps"; keys.append(ps)
json.dump({"keys": keys}, open("TEST-ONLY-jwks.json", "w"), indent=2)
json.dump(keys[0], open("TEST-ONLY-rsa-public.jwk.json", "w"), indent=2)
base = {"iss": "https://auth.example.com", "aud": "https://api.example.com", "sub": "device-42", "exp": 4102444800}
toks = {
  "pyjwt-rs256-stream": jwt.encode({**base, "scope": "mqtt:stream"}, rsa, "RS256", headers={"kid": "example"}),
  "pyjwt-rs256-noscope": jwt.encode({**base, "scope": "mqtt:other"}, rsa, "RS256", headers={"kid": "example"}),
  "pyjwt-ps256-stream": jwt.encode({**base, "scope": "mqtt:stream"}, rsa, "PS256", headers={"kid": "rsa-ps"}),
  "pyjwt-es256-stream": jwt.encode({**base, "scope": ["mqtt:stream", "mqtt:admin"]}, ec, "ES256", headers={"kid": "ec-1"}),
  "pyjwt-eddsa-stream": jwt.encode({**base, "scope": "mqtt:stream", "realm_access": {"roles": ["ops"]}}, ed, "EdDSA", headers={"kid": "ed-1"}),
}
json.dump(toks, open("TEST-ONLY-tokens.json", "w"), indent=2)
PY
echo "regenerated $(pwd)"
