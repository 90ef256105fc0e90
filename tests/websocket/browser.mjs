// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) loads
// page.html, which connects to the proxy with MQTT.js's browser bundle over ws,
// subscribes, publishes and shows what it received; the screenshot is kept.
// Usage: node browser.mjs WS_URL USERNAME TOPIC SCREENSHOT_PATH
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [wsUrl, user, topic, shot] = process.argv.slice(2);
const files = {
  "/": ["text/html", readFileSync(join(here, "page.html"))],
  "/mqtt.min.js": ["text/javascript", readFileSync(join(here, "node_modules/mqtt/dist/mqtt.min.js"))],
};
const server = createServer((req, res) => {
  const f = files[new URL(req.url, "http://x").pathname];
  if (!f) return res.writeHead(404).end();
  res.writeHead(200, { "content-type": f[0] }).end(f[1]);
}).listen(0, "127.0.0.1");
await new Promise((r) => server.once("listening", r));
const page_url = `http://127.0.0.1:${server.address().port}/?` + new URLSearchParams({ url: wsUrl, user, topic });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
  ],
});
let result;
try {
  const page = await browser.newPage({ viewport: { width: 800, height: 400 } });
  await page.goto(page_url);
  const settled = () => /^(received|error)/.test(document.getElementById("status").textContent);
  await page.waitForFunction(settled, null, { timeout: 15000 });
  const status = await page.textContent("#status");
  await page.screenshot({ path: shot });
  result = { ok: status.startsWith("received"), status, log: await page.textContent("#log") };
} catch (e) {
  result = { ok: false, error: String(e.message) };
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
