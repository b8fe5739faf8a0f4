/* 门禁页面共用 / shared by the access pages: who a holder is in words, door lists typed by
 * staff, and times typed in the site's zone sent with their UTC offset. Needs the shell. */
"use strict";

window.Acc = (() => {
  const S = window.Shell;

  /* A holder in words: the resident's name (masked for roles without personal data) and unit,
     员工 and the name, 访客 with the pass's visitor and host unit; never the stored id. */
  function holderText(h) {
    if (!h || !h.holder) return "";
    const kind = h.holder_kind || h.kind;
    if (kind === "resident") {
      const name = h.holder_name || S.t("住户", "Resident");
      return h.unit ? `${name}（${h.unit}）` : name;
    }
    if (kind === "staff") return `${S.label("holder_kind", "staff")} ${h.holder_name || ""}`.trim();
    if (kind === "visitor") {
      const who = S.label("holder_kind", "visitor");
      if (h.holder_name) return `${who} ${h.holder_name}${h.unit ? `（${S.t("访", "to")} ${h.unit}）` : ""}`;
      return `${who} #${String(h.holder).replace(/^visitor-/, "")}`;
    }
    return S.t("未知持卡人", "Unknown holder");
  }

  /* A card's or pass's door list in words (["*"] is every door). */
  function doorsText(doors) {
    const list = doors || [];
    return list.includes("*") ? S.t("全部门", "All doors") : list.join("、");
  }

  /* "1栋大门, 地库门" → ["1栋大门", "地库门"] (Chinese and Latin commas both split). */
  function parseDoors(all, text) {
    if (all) return ["*"];
    return String(text || "").split(/[,，、;；]/).map((d) => d.trim()).filter(Boolean);
  }

  function parts(ms, tz) {
    const out = {};
    for (const p of new Intl.DateTimeFormat("en-GB", {
      timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", second: "2-digit", hourCycle: "h23" }).formatToParts(new Date(ms))) {
      out[p.type] = Number(p.value);
    }
    return out;
  }

  /* Minutes the zone is ahead of UTC at the instant ``ms``. */
  function offsetAt(ms, tz) {
    const p = parts(ms, tz);
    return (Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - ms) / 60000;
  }

  /* "2026-12-07T14:00" (or a date) typed in the site's zone → ISO 8601 with its offset. */
  function withOffset(local, tz) {
    if (!local) return null;
    const text = local.length === 10 ? `${local}T00:00` : local;
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(text);
    if (!m) return local;
    const naive = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
    const off = offsetAt(naive - offsetAt(naive, tz) * 60000, tz);
    const sign = off < 0 ? "-" : "+";
    const a = Math.abs(off);
    const hh = String(Math.floor(a / 60)).padStart(2, "0");
    const mm = String(a % 60).padStart(2, "0");
    return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:00${sign}${hh}:${mm}`;
  }

  /* The day after a date ("2026-12-31" → "2027-01-01"): an inclusive "to" date as a bound. */
  function nextDay(date) {
    const d = new Date(`${date}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  }

  /* "2026-12-07T09:30" in the zone, for a datetime-local input (``minutes`` from now). */
  function localInput(tz, minutes) {
    const p = parts(Date.now() + minutes * 60000, tz);
    const two = (n) => String(n).padStart(2, "0");
    return `${p.year}-${two(p.month)}-${two(p.day)}T${two(p.hour)}:${two(p.minute)}`;
  }

  /* 注销 with a reason, in a table cell: the reason is required, a refusal stays beside it,
     ``url`` is the revoke route, ``toast`` what to say after, ``reload`` redraws the list. */
  function revokeForm(td, url, toast, reload) {
    const reason = S.el("input", { name: "reason", maxlength: "200", required: true,
                                   placeholder: S.t("注销原因（必填）", "Reason (required)") });
    const ok = S.el("button", { type: "submit", class: "danger", text: S.t("确认注销", "Revoke") });
    const cancel = S.el("button", { type: "button", text: S.t("取消", "Cancel") });
    const f = S.el("form", { class: "revoke", novalidate: true }, S.el("label", {}, reason), ok, cancel,
                   S.el("p", { class: "form-error", role: "alert", hidden: true }));
    cancel.addEventListener("click", () => reload());
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      S.clearErrors(f);
      if (!reason.value.trim()) {
        S.showError(f, Object.assign(new Error(S.t("请填写注销原因", "Give the reason")), { field: "reason" }));
        return;
      }
      await S.once(ok, async () => {
        try {
          await S.api(url, { method: "POST", json: { reason: reason.value.trim() } });
          S.toast(toast);
          await reload();
        } catch (err) {
          S.showError(f, err);
        }
      });
    });
    td.replaceChildren(f);
    reason.focus();
  }

  const siteUrl = (site, rest) => `/api/sites/${encodeURIComponent(site)}/access/${rest}`;

  /* A table of named things (time profiles, groups) with 编辑 for those who may write:
     ``fill(tr, item)`` adds the item's cells; ``onEdit()`` gives the edit handler or null.
     Returns ``load(site)``, which redraws the table body from ``GET …/access/{path}``. */
  function namedList({ body, path, key, attr, cols, empty, fill, onEdit }) {
    return async (site) => {
      const tbody = document.getElementById(body);
      try {
        const items = (await S.api(siteUrl(site, path)))[key];
        if (!items.length) { S.empty(tbody, cols, empty[0], empty[1]); return; }
        tbody.replaceChildren(...items.map((item) => {
          const tr = S.el("tr", { [attr]: item.name });
          fill(tr, item);
          const td = S.cell(tr, "");
          const edit = onEdit();
          if (edit) {
            const b = S.el("button", { type: "button", class: "edit", text: S.t("编辑", "Edit") });
            b.addEventListener("click", () => edit(item));
            td.replaceChildren(b);
          }
          return tr;
        }));
      } catch (err) {
        S.empty(tbody, cols, err.message, err.message);
      }
    };
  }

  async function permissions() {
    const me = await S.ready;
    return new Set((me && me.permissions) || []);
  }

  return { holderText, doorsText, parseDoors, withOffset, nextDay, localInput, siteUrl,
           permissions, revokeForm, namedList };
})();
