"""OpenAPI: Work-order rules (GET/PUT, check)."""

from __future__ import annotations

from cloud.web.openapi import PATHS, SCHEMAS, _err, _ok, _q

# --- event rules -------------------------------------------------------------------------------

SCHEMAS |= {
    "Rules": {"type": "object", "required": ["version", "yaml", "source"], "properties": {
        "version": {"type": "integer", "description": "已保存的版本号；0 表示启动时的文件 / "
                                                      "stored version; 0: the startup file"},
        "yaml": {"type": "string", "description": "规则文件原文 / the rule file as written"},
        "source": {"enum": ["database", "file"]},
        "file": {"type": "string", "description": "source=file 时的路径 / path when from file"}}},
    "RulesSaved": {"type": "object", "properties": {
        "version": {"type": "integer"}, "source": {"const": "database"},
        "by": {"type": "string"}}},
    "RulesChecked": {"type": "object", "properties": {
        "ok": {"type": "boolean"}, "problems": {"type": "array", "maxItems": 0}}},
}
_RULES_BODY = {"required": True, "content": {
    "application/yaml": {"schema": {"type": "string"}},
    "text/plain": {"schema": {"type": "string"}}}}
_RULES_BAD = _err("规则文件有误（code=rules_invalid，error.problems 列出每处 file/line/col/"
                  "message/fix），未保存 / refused as a whole (code=rules_invalid, every "
                  "problem in error.problems with file/line/col/message/fix); nothing saved")
PATHS |= {
    "/api/rules": {
        "get": {"summary": "现行事件规则 / the event rules in force",
                "description": "最新保存的版本；从未修改过时为控制台启动时的文件 / the newest "
                               "stored version, else the file the console started with",
                "responses": {"200": _ok("Rules", "规则 / rules")}},
        "put": {"summary": "保存新的规则文件 / save a new rule file",
                "description": "请求体为 YAML 原文。整份检查，任何错误都整份拒绝，现行规则不变；"
                               "通过后成为新版本，数秒内在各进程生效。修改人为当前登录（须负责"
                               "全部小区），每个版本记入审计日志 / the body is the YAML "
                               "file; any problem refuses it whole and the rules in force stay; "
                               "accepted, it becomes the next version and takes effect in every "
                               "console process within seconds. The author is the login (which "
                               "must serve every site); each version is audited",
                "parameters": [
                    _q("note", {"type": "string", "maxLength": 2000}, "说明 / note")],
                "requestBody": _RULES_BODY,
                "responses": {"200": _ok("RulesSaved", "新版本 / the new version"),
                              "400": _RULES_BAD,
                              "403": _err("登录只负责部分小区 / the login does not serve "
                                          "every site"),
                              "409": _err("并发保存冲突，请重试 / concurrent save; retry"),
                              "415": _err("须为 YAML 文本 / send YAML text")}}},
    "/api/rules/check": {"post": {
        "summary": "只检查规则文件，不保存 / check a rule file without saving",
        "requestBody": _RULES_BODY,
        "responses": {"200": _ok("RulesChecked", "没有问题 / no problems"),
                      "400": _RULES_BAD, "415": _err("须为 YAML 文本 / send YAML text")}}},
}
