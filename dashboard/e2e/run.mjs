// End-to-end: the dashboard in a real headless Chromium against a real TDS with simulator traffic.
//
//   npm run e2e            (after `npm run build`; CHROMIUM=/path overrides /usr/bin/chromium)
//
// Starts `tds up` on a fresh TDS_HOME (embedded PostgreSQL, API, worker, scheduler, simulator
// sending webhooks), makes three poison events dead-letter (a trigger on `products`), then drives
// the dashboard: log in, watch the overview numbers move, replay a dead letter and see it applied,
// bulk-replay another as a job, acknowledge an alert, look up an entity and see its diff, change a
// configuration value (a refused value first: its reason shows by the field), and check that a
// viewer sees no replay button. A screenshot of each page goes to e2e/screenshots/. With
// E2E_DOCS_IMAGE=1 it also waits for a minute of traffic in the charts (about two minutes more) and
// copies that overview to docs/images/dashboard-overview.png. Ends with "N passed, N failed".
//
// The dashboard is taken from TDS itself at / when TDS serves it; otherwise (API not wired to
// mount_dashboard yet) from `vite preview` proxying /api to that TDS.

import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const DASHBOARD = resolve(HERE, "..");
const REPO = resolve(DASHBOARD, "..");
const SHOTS = join(HERE, "screenshots");
const TDS = process.env.TDS_BIN ?? join(REPO, ".venv", "bin", "tds");
const PYTHON = process.env.TDS_PYTHON ?? join(REPO, ".venv", "bin", "python");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const POISON = ["E2E-DL-1", "E2E-DL-2", "E2E-DL-3"];
const VIEWER = { username: "viewer", password: "viewer password 123" };

const results = [];
let currentPage = null; // screenshotted when a check fails

// Node's fetch keeps connections alive; uvicorn closes idle ones after 5 s, and a request that
// races that close fails with "other side closed". Such a request never reached the app: retry it.
async function request(url, init) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (error) {
      const code = error?.cause?.code ?? "";
      if (attempt >= 3 || !/UND_ERR_SOCKET|ECONNRESET|EPIPE/.test(code)) throw error;
    }
  }
}
const children = [];
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function until(what, probe, { timeout = 60_000, every = 500 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await sleep(every);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

function start(command, args, env, logName) {
  const log = join(SHOTS, `${logName}.log`);
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const chunks = [];
  child.stdout.on("data", (chunk) => chunks.push(chunk));
  child.stderr.on("data", (chunk) => chunks.push(chunk));
  child.output = () => Buffer.concat(chunks).toString();
  child.logFile = log;
  children.push(child);
  return child;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once("exit", done));
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, 20_000);
  await exited;
  clearTimeout(timer);
}

/** The embedded PostgreSQL runs in its own session: make sure it is gone before its files are. */
async function stopPostgres(home) {
  const pidFile = join(home, "pgdata", "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let waited = 0; alive() && waited < 10_000; waited += 250) await sleep(250);
  if (!alive()) return;
  process.kill(pid, "SIGINT"); // fast shutdown: TDS left it running
  for (let waited = 0; alive() && waited < 15_000; waited += 250) await sleep(250);
}

async function check(name, body) {
  const started = Date.now();
  try {
    await body();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    results.push({ name, ok: false, error });
    if (currentPage) await currentPage.screenshot({ path: join(SHOTS, "failure.png"), fullPage: true }).catch(() => undefined);
    console.log(`FAIL ${name}: ${error.stack ?? error}`);
    throw error;
  }
}

// ------------------------------------------------------------------------------- the TDS side
class Tds {
  constructor(home, port) {
    this.home = home;
    this.base = `http://127.0.0.1:${port}`;
    this.env = { TDS_HOME: home };
    this.databaseUrl = `postgresql://postgres:@/tds?host=${join(home, "pgdata")}`;
  }

  cli(args, input) {
    return execFileSync(TDS, args, { env: { ...process.env, ...this.env }, input, encoding: "utf8" });
  }

  sql(statement) {
    const script = "import asyncio, sys, asyncpg\n" +
      "async def main():\n" +
      "    connection = await asyncpg.connect(sys.argv[1])\n" +
      "    await connection.execute(sys.argv[2])\n" +
      "    await connection.close()\n" +
      "asyncio.run(main())\n";
    execFileSync(PYTHON, ["-c", script, this.databaseUrl, statement], { encoding: "utf8" });
  }

  async login(username, password) {
    const response = await request(`${this.base}/api/v1/auth/token`, {
      method: "POST",
      body: new URLSearchParams({ username, password }),
    });
    if (!response.ok) throw new Error(`login ${username}: HTTP ${response.status}`);
    this.token = (await response.json()).access_token;
  }

  async api(method, path, body) {
    const response = await request(`${this.base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  async webhook(key, entity, body) {
    const response = await request(`${this.base}/api/v1/webhooks/zoho/${entity}`, {
      method: "POST",
      headers: { "X-TDS-Key": key, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (response.status !== 202) throw new Error(`webhook: HTTP ${response.status} ${await response.text()}`);
    return response.json();
  }
}

// ------------------------------------------------------------------------------- the browser side
async function shot(page, name) {
  await page.waitForTimeout(400); // let charts and chips settle
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function logIn(page, base, username, password) {
  await page.goto(`${base}/`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
}

async function receivedCount(page) {
  const text = await page.getByTestId("stat-throughput").innerText();
  const match = /([\d,]+) received/.exec(text);
  if (!match) throw new Error(`no received count in ${JSON.stringify(text)}`);
  return Number(match[1].replace(/,/g, ""));
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  if (!existsSync(join(DASHBOARD, "dist", "index.html"))) {
    execFileSync("npm", ["run", "build"], { cwd: DASHBOARD, stdio: "inherit" });
  }
  const home = mkdtempSync(join(tmpdir(), "tds-e2e-"));
  const tds = new Tds(home, await freePort());
  const simulatorPort = await freePort();
  const server = start(TDS, ["up", "--port", new URL(tds.base).port], { ...tds.env, TDS_SIMULATOR_PORT: String(simulatorPort) }, "tds");
  let browser;
  try {
    await check("TDS starts on a fresh database", async () => {
      await until("TDS ready", async () => {
        if (server.exitCode !== null) throw new Error(`tds up exited:\n${server.output()}`);
        const response = await request(`${tds.base}/api/v1/ready`);
        return response.ok && existsSync(join(home, "admin-password"));
      }, { timeout: 120_000 });
    });
    const adminPassword = readFileSync(join(home, "admin-password"), "utf8").trim();
    await tds.login("admin", adminPassword);

    await check("poison events are dead-lettered; an alert opens", async () => {
      tds.cli(["users", "create", "--username", VIEWER.username, "--role", "viewer", "--password-stdin"], `${VIEWER.password}\n`);
      const key = JSON.parse(tds.cli(["keys", "create", "--name", "e2e", "--json"])).key;
      await tds.api("PUT", "/api/v1/config/worker.max_attempts", { value: 2, note: "e2e: dead-letter fast" });
      await tds.api("PUT", "/api/v1/config/retry.backoff_base_seconds", { value: 0.2, note: "e2e" });
      await tds.api("PUT", "/api/v1/config/alerts.dlq_growth", { value: 1, note: "e2e: alert on the first dead letter" });
      tds.sql(`
        CREATE FUNCTION e2e_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.zoho_id LIKE 'E2E-DL-%' THEN RAISE EXCEPTION 'e2e poison: % is refused by the ERP', NEW.zoho_id; END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER e2e_poison BEFORE INSERT OR UPDATE ON products FOR EACH ROW EXECUTE FUNCTION e2e_poison();`);
      for (const [index, id] of POISON.entries()) {
        await tds.webhook(key, "items", {
          item: { item_id: id, name: `Poison ${index + 1}`, sku: `E2E-${index + 1}`, rate: 10, last_modified_time: "2026-01-15T10:20:30+0530" },
        });
      }
      await until("three open dead letters", async () => (await tds.api("GET", "/api/v1/dlq?status=open")).length === POISON.length);
      await until("an open alert", async () => (await tds.api("GET", "/api/v1/alerts?status=open")).length > 0, { timeout: 60_000 });
      tds.sql("DROP TRIGGER e2e_poison ON products"); // the cause is fixed: replays will apply
    });

    let base = tds.base;
    const root = await (await request(`${tds.base}/`)).text();
    if (!root.includes('<div id="root">')) {
      const port = await freePort();
      const preview = start("npx", ["vite", "preview", "--port", String(port), "--strictPort", "--host", "127.0.0.1"], { TDS_API_URL: tds.base }, "preview");
      base = `http://127.0.0.1:${port}`;
      await until("vite preview", async () => {
        if (preview.exitCode !== null) throw new Error(preview.output());
        return (await request(`${base}/`)).ok;
      });
      console.log(`note: TDS does not serve the dashboard at / yet; using vite preview on ${base}`);
    } else {
      console.log(`dashboard served by TDS at ${base}/`);
    }

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    currentPage = page;
    const pageErrors = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));

    await check("log in and watch the overview numbers move", async () => {
      await logIn(page, base, "admin", adminPassword);
      const first = await until("a received count", () => receivedCount(page).catch(() => null).then((n) => (n === null ? null : { n })));
      await until("the received count to move (simulator traffic, polled)", async () => (await receivedCount(page)) > first.n, { timeout: 30_000 });
      await page.getByTestId("stat-dlq").getByText("3", { exact: true }).waitFor();
      await shot(page, "overview");
    });

    const letters = await tds.api("GET", "/api/v1/dlq?status=open");
    const byZoho = Object.fromEntries(letters.map((letter) => [letter.zoho_id, letter]));

    await check("open a dead letter, replay it, see it applied", async () => {
      await page.getByRole("link", { name: "Dead letters" }).click();
      await page.getByRole("table", { name: "Dead letters" }).waitFor();
      await shot(page, "dead-letters");
      const letter = byZoho["E2E-DL-1"];
      await page.getByRole("link", { name: `#${letter.id}`, exact: true }).click();
      await page.getByRole("heading", { name: `Dead letter #${letter.id}` }).waitFor();
      await page.getByLabel("Payload").getByText("E2E-DL-1").first().waitFor();
      await page.getByRole("button", { name: "Replay", exact: true }).click();
      const dialog = page.getByRole("dialog");
      await dialog.getByLabel(/Note/).fill("e2e: trigger dropped");
      await dialog.getByRole("button", { name: "Replay", exact: true }).click();
      await page.getByText("applied to the ERP.").waitFor({ timeout: 30_000 });
      await shot(page, "dead-letter-replayed");
      const now = await tds.api("GET", `/api/v1/entities/items/E2E-DL-1`);
      if (!now.current.exists) throw new Error("the replayed item is not in products");
    });

    await check("bulk-replay a selected dead letter as a job and follow it", async () => {
      await page.goto(`${base}/dead-letters`);
      const letter = byZoho["E2E-DL-2"];
      await page.getByRole("checkbox", { name: `Select dead letter ${letter.id}` }).check();
      await page.getByRole("button", { name: "Replay selected (1)" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Replay", exact: true }).click();
      const job = page.locator('[data-testid^="job-"]');
      await job.getByText("completed").waitFor({ timeout: 30_000 });
      await job.getByText("1 of 1 done").waitFor();
      await shot(page, "dead-letters-bulk-replay");
      await until("the bulk-replayed item applied", async () => (await tds.api("GET", "/api/v1/entities/items/E2E-DL-2")).current.exists, { timeout: 30_000 });
    });

    await check("acknowledge an alert", async () => {
      await page.getByRole("link", { name: "Alerts" }).click();
      const ack = page.getByRole("button", { name: /^Acknowledge alert \d+$/ }).first();
      await ack.waitFor({ timeout: 30_000 });
      const label = await ack.getAttribute("aria-label");
      const alertId = Number(label.replace(/\D+/g, ""));
      await ack.click();
      const dialog = page.getByRole("dialog");
      await dialog.getByLabel(/Note/).fill("e2e: looking into it");
      await dialog.getByRole("button", { name: "Acknowledge", exact: true }).click();
      await page.getByRole("dialog").waitFor({ state: "detached" });
      await until("the alert acknowledged", async () => (await tds.api("GET", `/api/v1/alerts/${alertId}`)).status === "acknowledged", { timeout: 15_000 });
      await page.getByLabel("Status").click();
      await page.getByRole("option", { name: "Any" }).click();
      await page.getByRole("table", { name: "Alerts" }).getByText("acknowledged").first().waitFor();
      await shot(page, "alerts");
    });

    await check("look up an entity and see its diff", async () => {
      const rows = (await tds.api("GET", "/api/v1/queue?state=completed&limit=200")).items;
      const counts = new Map();
      for (const row of rows.filter((item) => item.entity !== "stock")) {
        const id = `${row.entity}/${row.zoho_id}`;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      let target = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
      if (!target || counts.get(target) < 2) {
        // No record changed twice yet: the bulk-replayed item has an insert with every field.
        target = "items/E2E-DL-2";
      }
      const [entity, zohoId] = target.split("/");
      await page.getByRole("link", { name: "Entities" }).click();
      await page.getByRole("combobox", { name: /^Entity/ }).click();
      await page.getByRole("option", { name: entity, exact: true }).click();
      await page.getByLabel(/Zoho id/).fill(zohoId);
      await page.getByRole("button", { name: "Look up" }).click();
      await page.getByRole("heading", { name: `${entity} ${zohoId} now` }).waitFor();
      const diff = page.getByRole("table", { name: /^Fields changed in change/ }).first();
      await diff.waitFor();
      if ((await diff.getByRole("row").count()) < 2) throw new Error("the newest change shows no field");
      await shot(page, "entity");
    });

    await check("change a configuration value (a refused value shows its reason inline)", async () => {
      await page.getByRole("link", { name: "Configuration" }).click();
      await page.getByRole("button", { name: "Edit worker.batch_size" }).click();
      const field = page.getByRole("textbox", { name: "worker.batch_size value" });
      await field.fill("0");
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByText(/worker\.batch_size: .*greater than or equal to 1/).waitFor();
      if ((await field.getAttribute("aria-invalid")) !== "true") throw new Error("the field is not marked invalid");
      await shot(page, "configuration-refused");
      await field.fill("50");
      await page.getByLabel(/Why/).fill("e2e: smaller batches");
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByText(/^Saved as version \d+\.$/).waitFor();
      const entry = await tds.api("GET", "/api/v1/config/worker.batch_size");
      if (entry.value !== 50 || entry.note !== "e2e: smaller batches") throw new Error(JSON.stringify(entry));
      await shot(page, "configuration");
    });

    await check("the other pages render: queue (with a trace), sync, performance, access", async () => {
      await page.getByRole("link", { name: "Queue" }).click();
      await page.getByRole("table", { name: "Queue rows" }).waitFor();
      await shot(page, "queue");
      await page.getByRole("button", { name: /^Trace queue row \d+$/ }).first().click();
      await page.getByRole("dialog").getByText("Outcome:").waitFor();
      await shot(page, "queue-trace");
      await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();
      await page.getByRole("link", { name: "Sync" }).click();
      await page.getByRole("combobox", { name: /^Entity/ }).first().click();
      await page.getByRole("option", { name: "items", exact: true }).click();
      await page.getByRole("button", { name: "Reconcile now" }).click();
      await page.locator('[data-testid^="job-"]').getByText("completed").waitFor({ timeout: 60_000 });
      await page.getByRole("table", { name: "Runs" }).waitFor();
      await shot(page, "sync");
      await page.getByRole("link", { name: "Performance" }).click();
      await page.getByText(/points, \d+ min each/).first().waitFor();
      await shot(page, "performance");
      await page.getByRole("link", { name: "Access" }).click();
      await page.getByRole("combobox", { name: `Role of ${VIEWER.username}` }).waitFor();
      await shot(page, "access");
    });

    await check("a phone-width overview is readable", async () => {
      const phone = await context.newPage();
      await phone.setViewportSize({ width: 390, height: 844 });
      await logIn(phone, base, "admin", adminPassword); // sessionStorage is per tab: a new tab logs in
      await phone.getByTestId("stat-throughput").waitFor();
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 1) throw new Error(`the page is ${overflow}px wider than the phone`);
      await shot(phone, "overview-phone");
      await phone.getByRole("button", { name: "Open the menu" }).click();
      await phone.getByRole("link", { name: "Overview" }).waitFor();
      await phone.getByRole("link", { name: "Dead letters" }).click();
      await phone.getByRole("heading", { name: "Dead letters" }).waitFor();
      await shot(phone, "dead-letters-phone");
      await phone.close();
    });

    await check("a viewer sees no replay button", async () => {
      await page.getByRole("button", { name: "Log out" }).click();
      await logIn(page, base, VIEWER.username, VIEWER.password);
      if (await page.getByRole("link", { name: "Access" }).count()) throw new Error("a viewer sees Access");
      await page.getByRole("link", { name: "Dead letters" }).click();
      const open = byZoho["E2E-DL-3"];
      await page.getByRole("link", { name: `#${open.id}`, exact: true }).waitFor();
      if (await page.getByRole("button", { name: /Replay|Discard/ }).count()) throw new Error("a viewer sees a replay/discard button");
      if (await page.getByRole("checkbox").count()) throw new Error("a viewer can select dead letters");
      await page.getByRole("link", { name: `#${open.id}`, exact: true }).click();
      await page.getByRole("heading", { name: `Dead letter #${open.id}` }).waitFor();
      await page.getByText("open", { exact: true }).first().waitFor();
      if (await page.getByRole("button", { name: /Replay|Discard/ }).count()) throw new Error("a viewer sees Replay on an open letter");
      await shot(page, "dead-letter-viewer");
      await page.getByRole("link", { name: "Configuration" }).click();
      await page.getByText("Read only: changing configuration needs the admin role.").waitFor();
      if (await page.getByRole("button", { name: /^Edit / }).count()) throw new Error("a viewer can edit configuration");
    });

    if (process.env.E2E_DOCS_IMAGE) await check("the overview after a minute of traffic (the docs image)", async () => {
      // The per-minute roll-up writes tds_metrics every minute: wait for the chart to show traffic.
      await page.getByRole("link", { name: "Overview" }).click();
      await until("the chart to show applied events", async () => {
        const caption = await page.getByText(/points, 1 min each/).innerText();
        return /total [1-9]/.test(caption);
      }, { timeout: 120_000, every: 2_000 });
      await shot(page, "overview-traffic");
      copyFileSync(join(SHOTS, "overview-traffic.png"), join(REPO, "docs", "images", "dashboard-overview.png"));
    });

    if (pageErrors.length) {
      results.push({ name: "no uncaught errors in the page", ok: false });
      console.log(`FAIL uncaught page errors:\n  ${pageErrors.join("\n  ")}`);
    } else {
      results.push({ name: "no uncaught errors in the page", ok: true });
      console.log("ok   no uncaught errors in the page");
    }
  } finally {
    if (browser) await browser.close();
    for (const child of children.reverse()) await stop(child);
    for (const child of children) {
      try {
        const { writeFileSync } = await import("node:fs");
        writeFileSync(child.logFile, child.output());
      } catch {
        // logs are a convenience
      }
    }
    await stopPostgres(home);
    if (!process.env.E2E_KEEP_HOME) rmSync(home, { recursive: true, force: true });
  }
}

let crashed = false;
try {
  await main();
} catch (error) {
  crashed = true;
  if (!results.some((result) => !result.ok)) console.log(`FAIL setup: ${error.stack ?? error}`);
}
const passed = results.filter((result) => result.ok).length;
const failed = results.length - passed + (crashed && results.every((result) => result.ok) ? 1 : 0);
console.log(`screenshots in ${SHOTS}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
