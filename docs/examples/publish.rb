# Publish a change event with a tenant's publish-only token, wait until it
# is applied, then purge a tag with the admin token. Standard library only.
#
#   CACHEGATE_URL=http://127.0.0.1:9090 \
#   CACHEGATE_TENANT_TOKEN=cgt_... CACHEGATE_ADMIN_TOKEN=... ruby publish.rb
require "json"
require "net/http"
require "uri"

URL = ENV.fetch("CACHEGATE_URL", "http://127.0.0.1:9090")

# post sends body as JSON and returns the decoded answer, or aborts with
# the server's message (a 503 means not accepted: send it again).
def post(path, token, body)
  uri = URI(URL + path)
  req = Net::HTTP::Post.new(uri, "Authorization" => "Bearer #{token}", "Content-Type" => "application/json")
  req.body = JSON.generate(body)
  resp = Net::HTTP.start(uri.host, uri.port, read_timeout: 60) { |http| http.request(req) }
  abort("#{path}: HTTP #{resp.code}: #{resp.body}") unless resp.is_a?(Net::HTTPSuccess)
  JSON.parse(resp.body)
end

# 1. The app publishes "company acme was updated"; wait=1 answers once
#    every live instance dropped the tags (200, "applied": true).
event = post("/api/v1/events?wait=1", ENV.fetch("CACHEGATE_TENANT_TOKEN"),
             { tenant: "acme", type: "company.updated", entity: "company", key: "acme" })
puts JSON.generate(event)
abort("the event was not applied") unless event["applied"]

# 2. An operator purges everything tagged gallery:acme.
purge = post("/api/v1/purge?wait=1", ENV.fetch("CACHEGATE_ADMIN_TOKEN"),
             { tenant: "acme", tags: ["gallery:acme"] })
puts JSON.generate(purge)
abort("the purge was not applied") unless purge["applied"]
