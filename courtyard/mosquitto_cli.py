"""``courtyard cloud mosquitto-acl``: the files a production Mosquitto needs for Courtyard.

Without ``--out`` it prints the ACL (as it always has) or, with ``--conf``, a mosquitto.conf
snippet. With ``--out DIR`` it writes ``courtyard.acl``, ``courtyard.passwd`` (every site of
``COURTYARD_SITE_CREDENTIALS`` plus the console's ``COURTYARD_MQTT_USERNAME`` /
``COURTYARD_MQTT_PASSWORD``) and ``courtyard.conf`` into DIR, each 0600. The text is the one
the console's own managed broker uses (``cloud.mosquitto_acl``); ``--cafile/--certfile/
--keyfile`` make the listener TLS-only (docs/operations.md, "Mosquitto").
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def add_mosquitto_command(cloud: Any) -> None:
    """Register ``mosquitto-acl`` under ``courtyard cloud``."""
    acl = cloud.add_parser(
        "mosquitto-acl",
        help="生成 Mosquitto 访问控制、密码与配置文件 / the production Mosquitto ACL, "
             "password file and config")
    acl.add_argument("--ingest-user", action="append",
                     help="控制台的 MQTT 用户名 / the console's MQTT username (repeatable; "
                          "default COURTYARD_MQTT_USERNAME or ingest)")
    acl.add_argument("--conf", action="store_true",
                     help="打印 mosquitto.conf 片段 / print a mosquitto.conf snippet instead")
    acl.add_argument("--out", metavar="DIR",
                     help="写入 courtyard.acl / .passwd / .conf（0600）/ write the three files "
                          "into DIR (0600)")
    acl.add_argument("--port", type=int, help="监听端口 / listener port (1883; 8883 with TLS)")
    acl.add_argument("--host", help="监听地址 / listen address (default: every interface)")
    acl.add_argument("--cafile", help="TLS: 签发服务器证书的 CA / CA that signed the certificate")
    acl.add_argument("--certfile", help="TLS: 服务器证书 / the server certificate")
    acl.add_argument("--keyfile", help="TLS: 服务器私钥 / the server's private key")
    acl.add_argument("--persistence-dir", default="/var/lib/mosquitto",
                     help="会话持久化目录 / session persistence folder")
    acl.add_argument("--user", help="Mosquitto 以此用户运行 / the user Mosquitto runs as")
    acl.set_defaults(func=_main)


def _fail(text: str) -> int:
    print(text, file=sys.stderr)
    return 2


def _main(args: argparse.Namespace) -> int:
    from cloud.mosquitto_acl import TlsFiles, acl_text, conf_text, password_file_text
    from cloud.settings import Settings, SettingsError

    env_user = (os.environ.get("COURTYARD_MQTT_USERNAME") or "").strip()
    users: list[str] = args.ingest_user or [env_user or "ingest"]
    tls_parts = (args.cafile, args.certfile, args.keyfile)
    if any(tls_parts) and not all(tls_parts):
        return _fail("TLS 需要同时给出 --cafile、--certfile 和 --keyfile / TLS needs --cafile, "
                     "--certfile and --keyfile together")
    tls = TlsFiles(*(str(Path(p).resolve()) for p in tls_parts)) if all(tls_parts) else None
    port = args.port or (8883 if tls else 1883)
    try:
        acl = acl_text(users)
    except ValueError as exc:
        return _fail(f"无效的用户名 / {exc}")
    out = Path(args.out).resolve() if args.out else None
    where = out or Path("/etc/mosquitto")
    conf = conf_text(port=port, host=args.host, password_file=str(where / "courtyard.passwd"),
                     acl_file=str(where / "courtyard.acl"), tls=tls, user=args.user,
                     persistence_dir=args.persistence_dir)
    if out is None:
        sys.stdout.write(conf if args.conf else acl)
        return 0
    try:
        settings = Settings.from_env()
        settings.check_site_secrets()
    except SettingsError as exc:
        return _fail(f"配置错误 / configuration error: {exc}")
    password = settings.mqtt_password
    if not password:
        return _fail("请设置 COURTYARD_MQTT_PASSWORD（控制台连接代理的密码）/ set "
                     "COURTYARD_MQTT_PASSWORD (the console's broker password)")
    logins = {**settings.site_credentials, **dict.fromkeys(users, password)}
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("courtyard.acl", acl), ("courtyard.passwd", password_file_text(logins)),
                       ("courtyard.conf", conf)):
        path = out / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
    print(f"已写入 / written: {out}/courtyard.{{acl,passwd,conf}} "
          f"(站点 sites: {', '.join(sorted(settings.site_credentials)) or '-'}; "
          f"{'TLS' if tls else '明文 / plain TCP'} :{port})")
    return 0
