/**
 * A browser without a browser, for the ready server's pages: it keeps cookies as `Set-Cookie` leaves them, sends them
 * back, posts forms, and reads hidden fields out of the HTML. Requests go straight to `app.fetch`.
 */
import { type App } from '../../src/app/app.js'

/** A cookie jar and an address, talking to one app at one origin. */
export class Browser {
  /** Cookie values by name, as the server last set them. */
  readonly cookies = new Map<string, string>()

  constructor(
    private readonly app: App,
    private readonly origin: string,
    /** The client address the app sees (login throttling counts per address). */
    public remoteAddress = '192.0.2.10',
  ) {}

  /** Sends a request with this browser's cookies and keeps the cookies of the answer. */
  async request(path: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    if (cookie !== '') headers.set('Cookie', cookie)
    let body: string | null = null
    if (init.form !== undefined) {
      headers.set('Content-Type', 'application/x-www-form-urlencoded')
      body = new URLSearchParams(init.form).toString()
    }
    const response = await this.app.fetch(new Request(new URL(path, this.origin), { method: init.method ?? (body === null ? 'GET' : 'POST'), headers, body }), {
      remoteAddress: this.remoteAddress,
    })
    for (const setCookie of response.headers.getSetCookie()) {
      const [pair = ''] = setCookie.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq)
      const value = pair.slice(eq + 1)
      if (/;\s*Max-Age=0(;|$)/i.test(setCookie) || value === '') this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return response
  }

  get(path: string): Promise<Response> {
    return this.request(path)
  }

  post(path: string, form: Record<string, string>): Promise<Response> {
    return this.request(path, { form })
  }
}

/** The value of a hidden `<input name=…>` of a page, unescaped. */
export function hiddenField(html: string, name: string): string {
  const match = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(html)
  if (match?.[1] === undefined) throw new Error(`the page has no hidden field ${name}:\n${html}`)
  return match[1].replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
}

/** The `Set-Cookie` header of a response for one cookie name. */
export function setCookie(response: Response, name: string): string | undefined {
  return response.headers.getSetCookie().find((cookie) => cookie.startsWith(`${name}=`))
}
