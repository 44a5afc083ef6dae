/**
 * `oauthkit serve --db memory --seed FILE` (issue 21, item 4): a demo server whose users and clients are made at
 * start, since `oauthkit users add --db memory` writes into a process of its own.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, tempDir, type RunningServer } from './support.js'

const CLIENT = { clientId: 'demo-app', clientSecret: 'a-demo-secret-of-enough-length-0123456789' }

describe('oauthkit serve --db memory --seed FILE', () => {
  let server: RunningServer
  let remove: () => Promise<void>

  beforeAll(async () => {
    const dir = await tempDir('memory-demo')
    remove = dir.remove
    const seed = join(dir.path, 'seed.json')
    await writeFile(
      seed,
      JSON.stringify({
        users: [{ username: 'alice', password: 'correct horse battery staple' }],
        clients: [
          { name: 'demo', grantTypes: ['client_credentials', 'password'], scopes: ['read'], ...CLIENT },
          { name: 'spa', public: true, grantTypes: ['authorization_code'], redirectUris: ['http://127.0.0.1:8080/callback'], scopes: ['read'] },
        ],
      }),
    )
    server = await startServer('memory', ['--seed', seed, '--enable-password-grant'])
  })

  afterAll(async () => {
    await server?.stop()
    await remove?.()
  })

  const token = (body: string) =>
    fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${btoa(`${CLIENT.clientId}:${CLIENT.clientSecret}`)}` },
      body,
    })

  it('says at start what it seeded, and that nothing persists', async () => {
    await server.waitForOutput(/nothing persists/)
    const output = server.output()
    expect(output).toContain('oauthkit: seeded user alice')
    expect(output).toContain('oauthkit: seeded client demo: client_id demo-app, secret as in the file')
    expect(output).toMatch(/oauthkit: seeded client spa: client_id \S+, public, no secret/)
    expect(output).not.toContain('npx oauthkit users add')
  })

  it("issues tokens to the seeded client, and for the seeded user's password", async () => {
    const machine = await token('grant_type=client_credentials&scope=read')
    expect(machine.status).toBe(200)
    expect(await machine.json()).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) })
    const user = await token(`grant_type=password&username=alice&password=${encodeURIComponent('correct horse battery staple')}&scope=read`)
    expect(user.status).toBe(200)
    const wrong = await token('grant_type=password&username=alice&password=nope&scope=read')
    expect(wrong.status).toBe(400)
  })
})
