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
# config/jwt.yaml carries the example public key inline: keep it in step.
import re
cfg = "../../../config/jwt.yaml"
text = open(cfg).read()
text = re.sub(r"(?m)^(\s+)n: .*$", lambda m: m.group(1) + "n: " + keys[0]["n"], text)
text = re.sub(r"(?m)^(\s+)e: .*$", lambda m: m.group(1) + "e: " + keys[0]["e"], text)
open(cfg, "w").write(text)
PY
# TLS: a TEST-ONLY CA and a certificate for localhost, as PEM and as PKCS#12 with
# the password TEST-ONLY-keystore-password (config/jwt.yaml reads it from
# ${KEYSTORE_PASSWORD}).
mkdir -p ../tls && cd ../tls
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=TEST-ONLY mqtt-proxy example CA" \
  -keyout TEST-ONLY-ca.key -out TEST-ONLY-ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout TEST-ONLY-localhost.key \
  -out TEST-ONLY-localhost.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in TEST-ONLY-localhost.csr -CA TEST-ONLY-ca.pem -CAkey TEST-ONLY-ca.key -CAcreateserial \
  -days 3650 -extfile ext.cnf -out TEST-ONLY-localhost.pem 2>/dev/null
openssl pkcs12 -export -in TEST-ONLY-localhost.pem -inkey TEST-ONLY-localhost.key -certfile TEST-ONLY-ca.pem \
  -passout pass:TEST-ONLY-keystore-password -out TEST-ONLY-localhost.p12
rm -f TEST-ONLY-localhost.csr ext.cnf TEST-ONLY-ca.srl
echo "regenerated tests/fixtures/jwt and tests/fixtures/tls"
