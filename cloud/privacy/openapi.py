"""OpenAPI: the data subject (``/api/people/{id}/…``, ``cloud.privacy.routes``)."""

from __future__ import annotations

from cloud.web.openapi import PATHS

_TAG = ["privacy"]
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"},
       "description": "住户记录编号 / the resident row's id"}
_PURPOSE = {"name": "purpose", "in": "path", "required": True,
            "schema": {"type": "string", "enum": ["face_access"]}}


def _op(summary: str, ok: str = "200", params: tuple[dict[str, object], ...] = (),
        body: dict[str, object] | None = None, extra: dict[str, str] | None = None
        ) -> dict[str, object]:
    responses = {ok: {"description": "OK"}, "404": {"description": "住户不存在 / no such resident"},
                 **{k: {"description": v} for k, v in (extra or {}).items()}}
    op: dict[str, object] = {"tags": _TAG, "summary": summary, "parameters": [_ID, *params],
                             "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": body}}}
    return op


_FACE = _op("录入人脸（JPEG 作为请求体；须先有同意）/ enrol a face (the JPEG as the body; needs "
            "a current consent)", "201",
            extra={"409": "未同意 / no current consent", "413": "照片过大 / too large",
                   "415": "须为 image/jpeg / must be image/jpeg"})
_FACE["requestBody"] = {"required": True, "content": {"image/jpeg": {
    "schema": {"type": "string", "format": "binary"}}}}

PATHS.update({
    "/api/people/{id}/export": {
        "get": _op("导出住户个人数据（JSON 附件）/ export everything held about the person "
                   "(a JSON attachment)")},
    "/api/people/{id}/erasure": {
        "post": _op("删除住户个人数据（可删的删除，须保留的假名化）/ erase the person's data "
                    "(delete what may be deleted, pseudonymise what must be kept)", "201",
                    body={"type": "object", "required": ["reason"],
                          "properties": {"reason": {"type": "string", "maxLength": 500}}},
                    )},
    "/api/people/{id}/requests": {
        "get": _op("该住户的导出与删除请求 / the person's export and erasure requests")},
    "/api/people/{id}/consents": {
        "post": _op("登记单独同意（人脸门禁）/ record separate consent (face access)", "201",
                    body={"type": "object", "required": ["purpose"], "properties": {
                        "purpose": {"type": "string", "enum": ["face_access"]},
                        "evidence": {"type": "string", "maxLength": 500,
                                     "description": "同意书存放处 / where the form is kept"}}})},
    "/api/people/{id}/consents/{purpose}": {
        "delete": _op("撤回同意（人脸数据随即删除）/ withdraw consent (the face data is "
                      "deleted)", params=(_PURPOSE,))},
    "/api/people/{id}/face": {"post": _FACE},
    "/api/people/{id}/faces": {
        "get": _op("已录入的人脸（引用，不含图片）/ enrolled faces (refs, not images)")},
})
