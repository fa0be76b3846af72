"""An SMTP server on 127.0.0.1 for clooster's tests, made of aiosmtpd.

It prints "ready PORT" once it takes connections, then one JSON object a
line for each mail it receives:

    {"mail_from": ..., "rcpt_tos": [...], "data": base64 of the raw message,
     "tls": whether the session was encrypted, "login": who authenticated}

and stops when its standard input closes.

  --port N            listen on N (0, the default: any free port)
  --cert F --key F    offer STARTTLS with this certificate and key
  --implicit          speak TLS from the start instead (with --cert, --key)
  --user U --password P
                      offer AUTH PLAIN, LOGIN, CRAM-MD5 and XOAUTH2 (the
                      password is the token), taking only U and P, and only
                      after STARTTLS when it offers STARTTLS

A recipient whose local part starts with "refuse" gets 550, one that starts
with "later" gets 451.
"""

import argparse
import base64
import hashlib
import hmac
import json
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword, auth_mechanism

out = threading.Lock()


def emit(line):
    with out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class Handler:
    def __init__(self, user, password):
        self.user = user
        self.password = password

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local.startswith("refuse"):
            return "550 5.1.1 <%s>: no such user here" % address
        if local.startswith("later"):
            return "451 4.7.1 <%s>: greylisted, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data if session.authenticated else None
        if isinstance(login, bytes):
            login = login.decode()
        emit(json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": base64.b64encode(envelope.original_content).decode(),
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "login": login,
        }))
        return "250 2.0.0 OK queued"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == self.user.encode()
              and auth_data.password == self.password.encode())
        return AuthResult(success=ok, handled=False, auth_data=self.user if ok else None)

    @auth_mechanism("CRAM-MD5")
    async def auth_CRAM_MD5(self, server, args):
        challenge = b"<1896.697170952@127.0.0.1>"
        answer = await server.challenge_auth(challenge)
        if not isinstance(answer, bytes):
            return AuthResult(success=False, handled=False)
        user, _, digest = answer.partition(b" ")
        want = hmac.new(self.password.encode(), challenge, hashlib.md5).hexdigest().encode()
        ok = user == self.user.encode() and hmac.compare_digest(digest, want)
        return AuthResult(success=ok, handled=False, auth_data=self.user if ok else None)

    async def auth_XOAUTH2(self, server, args):
        if len(args) < 2:
            return AuthResult(success=False, handled=False)
        try:
            fields = base64.b64decode(args[1]).decode().split("\x01")
        except ValueError:
            return AuthResult(success=False, handled=False)
        want = ["user=" + self.user, "auth=Bearer " + self.password, "", ""]
        if fields == want:
            return AuthResult(success=True, auth_data=self.user)
        # As Gmail does: an error challenge, then 535 after the client's empty line.
        await server.challenge_auth(b'{"status":"401"}')
        return AuthResult(success=False, handled=False)


class BoundController(Controller):
    """A Controller on a socket bound beforehand, so that port 0 works."""

    def __init__(self, handler, sock, **kwargs):
        self.sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **kwargs)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--implicit", action="store_true")
    ap.add_argument("--user")
    ap.add_argument("--password")
    args = ap.parse_args()

    tls = None
    if args.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)

    handler = Handler(args.user or "", args.password or "")
    kwargs = {"server_hostname": "smtpd.test", "ready_timeout": 10}
    if args.implicit:
        kwargs["ssl_context"] = tls
    elif tls:
        kwargs["tls_context"] = tls
    if args.user:
        kwargs["authenticator"] = handler.authenticate
        # aiosmtpd tells only a STARTTLS session from one in clear: under
        # implicit TLS, its check would refuse AUTH.
        kwargs["auth_require_tls"] = tls is not None and not args.implicit
    else:
        kwargs["auth_exclude_mechanism"] = ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"]

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(16)
    controller = BoundController(handler, sock, **kwargs)
    controller.start()
    emit("ready %d" % sock.getsockname()[1])
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
