// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  // A session that ended (log-out elsewhere, new password, account disabled): log in again, coming back here.
  const toLogin = () => {
    window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`);
  };

  // Reveal a masked phone number (the server audits every reveal).
  // A case without a contact reveals the number that called or texted (data-case).
  document.querySelectorAll("button.reveal").forEach((button) => {
    button.addEventListener("click", async () => {
      const id = button.dataset.contact || button.dataset.case;
      const url = button.dataset.contact ? `/contacts/${id}/reveal` : `/escalations/${id}/reveal`;
      const response = await fetch(url, {
        method: "POST", headers: { "X-CSRF-Token": csrf, "X-Requested-With": "fetch" }, credentials: "same-origin",
      });
      if (response.status === 401) { toLogin(); return; }
      if (!response.ok) return;
      const data = await response.json();
      const target = document.getElementById(button.dataset.contact ? `phone-${id}` : `case-phone-${id}`);
      // A printout shows the masked number even after a reveal (style.css prints data-masked).
      target.dataset.masked = target.textContent;
      target.textContent = data.phone;
      target.insertAdjacentHTML("afterend", ` <a class="no-print" href="tel:${encodeURIComponent(data.phone)}">☎</a>`);
      button.remove();
    });
  });

  // The home-visit worksheet's print button (no inline scripts: the CSP forbids them).
  document.getElementById("btn-print")?.addEventListener("click", () => window.print());

  // Waiting times tick on the page, so a case turns amber and red while someone is looking
  // (same rule as escalation_queries.sla_state: red at the level's limit, amber from half of it).
  // Said the way the server says it (Babel's format_timedelta, threshold 1.5, in robocall/labels.py):
  // the largest unit that is at least 1.5 of it, rounded, in the page's language ("3 ngày", "2 hours").
  const UNITS = [["year", 525600], ["month", 43200], ["week", 10080], ["day", 1440], ["hour", 60], ["minute", 1]];
  const pageLang = document.documentElement.lang === "en" ? "en-GB" : "vi-VN";
  const duration = (minutes) => {
    for (const [unit, size] of UNITS) {
      if (minutes / size >= 1.5 || unit === "minute") {
        const value = Math.round(minutes / size);
        return new Intl.NumberFormat(pageLang, {style: "unit", unit, unitDisplay: "long"}).format(value);
      }
    }
    return "";
  };
  const tick = () => {
    document.querySelectorAll(".sla[data-created]").forEach((el) => {
      const age = Math.max(0, Math.floor((Date.now() - Date.parse(el.dataset.created)) / 60000));
      const sla = Number(el.dataset.sla);
      el.textContent = duration(age);
      if (el.dataset.status !== "open") return;
      const state = age >= sla ? "red" : age * 2 >= sla ? "amber" : "green";
      el.classList.remove("sla-green", "sla-amber", "sla-red");
      el.classList.add(`sla-${state}`);
    });
  };
  setInterval(tick, 5000);

  // Live queue: the server says when escalations change; we reload the table through the normal route.
  const queue = document.getElementById("queue");
  if (queue && window.EventSource) {
    const source = new EventSource("/escalations/stream");
    const live = document.getElementById("live");
    source.addEventListener("hello", () => { if (live) live.hidden = false; });
    const refresh = async (event) => {
      const before = new Set([...queue.querySelectorAll("tr.esc")].map((tr) => tr.dataset.id));
      const response = await fetch(queue.dataset.partial,
        { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
      if (response.status === 401) { toLogin(); return; }
      if (!response.ok) return;
      queue.innerHTML = await response.text();
      queue.querySelectorAll("tr.esc").forEach((tr) => { if (!before.has(tr.dataset.id)) tr.classList.add("fresh"); });
      if (event.type === "escalation") document.getElementById("new-notice").hidden = false;
    };
    source.addEventListener("escalation", refresh);
    source.addEventListener("timeline", refresh);
    source.addEventListener("logout", () => { source.close(); toLogin(); });
    source.onerror = async () => {
      if (live) live.hidden = true;
      if (source.readyState !== EventSource.CLOSED) return;  // the browser reconnects by itself
      // Refused (a 401 is not retried): is the session over?
      const check = await fetch("/api/v1/session", { credentials: "same-origin" });
      if (check.status === 401) toLogin();
    };
  }

  // "Load more": the next page alone (its cursor, the filters kept) is fetched and its rows join those
  // shown; the address becomes that of every row shown (the same start, one page more: the link alone, without
  // script, does the same through a page load), so a reload shows them again and the live refresh reads them all.
  if (queue) {
    queue.addEventListener("click", async (event) => {
      const more = event.target.closest("#load-more");
      if (!more) return;
      event.preventDefault();
      const body = queue.querySelector("table.queue tbody");
      const response = await fetch(more.dataset.next,
        { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
      if (response.status === 401) { toLogin(); return; }
      if (!response.ok || !body) { location.href = more.href; return; }
      const next = document.createElement("template");
      next.innerHTML = await response.text();
      body.append(...next.content.querySelectorAll("tr.esc"));
      const count = next.content.querySelector("#queue-count");
      if (count) queue.querySelector("#queue-count").replaceWith(count);
      // The pager of the rows shown: the page before the first, the page after the last.
      const pager = queue.querySelector("#queue-pager");
      const after = next.content.querySelector("#queue-pager");
      const shown = new URL(more.href, location.href);
      if (after) {
        after.querySelector("a[rel=prev]")?.remove();
        const prev = pager.querySelector("a[rel=prev]");
        if (prev) after.prepend(prev);
        const span = after.querySelector("#queue-pages");
        span.dataset.first = pager.querySelector("#queue-pages").dataset.first;
        span.textContent = `${span.dataset.first}–${more.dataset.last}`;
        const again = after.querySelector("#load-more");
        const pages = Number(shown.searchParams.get("pages")) + 1;
        if (again && pages <= Number(queue.dataset.maxPages)) {
          const href = new URL(shown);
          href.searchParams.set("pages", String(pages));
          again.href = href.pathname + href.search;
        } else if (again) again.remove();
        pager.replaceWith(after);
      } else pager.remove();
      const partial = new URL(shown);
      partial.searchParams.set("partial", "1");
      queue.dataset.partial = partial.pathname + partial.search;
      history.replaceState(null, "", shown.pathname + shown.search);
    });
  }
})();
