// Opens /docs in Debian's headless Chromium with every outside name unresolvable, checks that
// the operations are listed, then sends a request from the page as a user would: expands
// GET /api/v1/products, "Try it out", "Execute", and reads the live response's status and
// body. Fails (exit 1) on any request that leaves the server or any step that does not happen.
//
// usage: node .ci/browser/try-it-out.mjs http://127.0.0.1:PORT [screenshot.png]
import { chromium } from "playwright-core";

const base = process.argv[2];
const screenshot = process.argv[3];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
});
const outside = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  page.on("request", (request) => {
    if (!request.url().startsWith(base)) outside.push(request.url());
  });
  await page.goto(`${base}/docs`);
  const operation = page.locator("#operations-products-product_list");
  await operation.waitFor({ timeout: 20000 });
  const listed = await page.locator(".opblock").count();
  if (listed < 20) throw new Error(`only ${listed} operations listed`);
  await operation.locator(".opblock-summary").click();
  await operation.getByRole("button", { name: "Try it out" }).click();
  const answered = page.waitForResponse((r) => r.url().startsWith(`${base}/api/v1/products`), { timeout: 20000 });
  await operation.getByRole("button", { name: "Execute" }).click();
  const response = await answered;
  if (response.status() !== 200) throw new Error(`the page's request answered ${response.status()}`);
  const shown = operation.locator(".live-responses-table .response .response-col_status").first();
  await shown.waitFor({ timeout: 20000 });
  const status = (await shown.innerText()).trim();
  if (!status.startsWith("200")) throw new Error(`the page shows status ${status}`);
  const body = await operation.locator(".live-responses-table .response-col_description pre").first().innerText();
  if (!body.includes('"items"')) throw new Error(`the page shows no list: ${body.slice(0, 200)}`);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
  console.log(`docs: ${listed} operations listed; "Try it out" on GET /api/v1/products answered ${status}`);
} finally {
  await browser.close();
}
if (outside.length) {
  console.error(`requests beyond the server: ${outside.join(", ")}`);
  process.exit(1);
}
