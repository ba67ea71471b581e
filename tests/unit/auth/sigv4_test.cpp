// SigV4 verification and signing against AWS's published test-suite vector and vectors botocore's own signer
// produces (tests/unit/auth/sigv4_vectors.py, run with Debian's /usr/bin/python3 at test time).

#include "lambent/auth/sigv4.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

namespace {

using namespace lambent::auth;
using namespace std::chrono_literals;

const std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

clock::time_point suite_time() {
    // 2015-08-30T12:36:00Z, the date of AWS's SigV4 test suite.
    return clock::from_time_t(1440938160);
}

verifier suite_verifier(std::string key_secret = secret) {
    return verifier({credential{"default", "AKIDEXAMPLE", std::move(key_secret), ""}}, verifier_options{});
}

// AWS's published "get-vanilla" case of the SigV4 test suite.
struct vanilla {
    std::string auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                       "SignedHeaders=host;x-amz-date, "
                       "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    request_view view() const {
        return request_view{"GET", "/", {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}, {"Authorization", auth}}, ""};
    }
};

TEST(Sigv4, AwsSuiteGetVanillaVerifies) {
    vanilla v;
    auto r = suite_verifier().verify(v.view(), "service", suite_time());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->access_key_id, "AKIDEXAMPLE");
    EXPECT_EQ(r->profile, "default");
}

TEST(Sigv4, AwsSuiteGetVanillaSigns) {
    request_view req{"GET", "/", {{"Host", "example.amazonaws.com"}}, ""};
    auto added = sign(req, signing_key{"AKIDEXAMPLE", secret, "", "us-east-1", "service"}, suite_time());
    ASSERT_EQ(added.size(), 2u);
    EXPECT_EQ(added[0].second, "20150830T123600Z");
    EXPECT_EQ(added[1].first, "Authorization");
    EXPECT_EQ(added[1].second, vanilla{}.auth);
}

TEST(Sigv4, Failures) {
    vanilla v;
    const auto now = suite_time();
    {  // wrong secret
        auto r = suite_verifier("not-the-secret").verify(v.view(), "service", now);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().type(), "InvalidSignatureException");
        EXPECT_EQ(r.error().status(), 403u);
        EXPECT_TRUE(r.error().message.starts_with("The request signature we calculated does not match the signature "
                                                  "you provided. Check your AWS Secret Access Key and signing method."))
            << r.error().message;
        EXPECT_NE(r.error().message.find("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"),
                  std::string::npos)
            << r.error().message;
    }
    {  // unknown key
        verifier other({credential{"p", "AKIDOTHER", secret, ""}}, verifier_options{});
        auto r = other.verify(v.view(), "service", now);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().type(), "UnrecognizedClientException");
        EXPECT_EQ(r.error().message, "The security token included in the request is invalid.");
    }
    {  // unsigned
        request_view bare{"GET", "/", {{"Host", "example.amazonaws.com"}}, ""};
        auto r = suite_verifier().verify(bare, "service", now);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().type(), "MissingAuthenticationTokenException");
        EXPECT_EQ(r.error().message, "Missing Authentication Token");
    }
    {  // stale: 15 minutes and one second later
        auto r = suite_verifier().verify(v.view(), "service", now + 15min + 1s);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().type(), "InvalidSignatureException");
        EXPECT_EQ(r.error().message, "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z "
                                     "(20150830T125101Z - 15 min.)");
    }
    {  // exactly at the edge of the window: still good
        EXPECT_TRUE(suite_verifier().verify(v.view(), "service", now + 15min));
        EXPECT_TRUE(suite_verifier().verify(v.view(), "service", now - 15min));
    }
    {  // from the future
        auto r = suite_verifier().verify(v.view(), "service", now - 16min);
        ASSERT_FALSE(r);
        EXPECT_TRUE(r.error().message.starts_with("Signature not yet current: 20150830T123600Z is still later than"))
            << r.error().message;
    }
    {  // scoped to another service or region
        auto r = suite_verifier().verify(v.view(), "lambda", now);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().type(), "InvalidSignatureException");
        EXPECT_EQ(r.error().message, "Credential should be scoped to correct service: 'lambda'. ");
        verifier west({credential{"p", "AKIDEXAMPLE", secret, ""}}, verifier_options{"us-west-2", 15min});
        auto w = west.verify(v.view(), "service", now);
        ASSERT_FALSE(w);
        EXPECT_EQ(w.error().message, "Credential should be scoped to a valid region, not 'us-east-1'. ");
    }
    {  // no Signature part
        request_view part{"GET", "/", {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"},
                                       {"Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date"}}, ""};
        auto r = suite_verifier().verify(part, "service", now);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().type(), "IncompleteSignatureException");
        EXPECT_EQ(r.error().status(), 400u);
    }
    {  // a tampered header value
        auto view = v.view();
        view.headers[0].second = "other.amazonaws.com";
        auto r = suite_verifier().verify(view, "service", now);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().type(), "InvalidSignatureException");
    }
}

TEST(Sigv4, ContentSha256Header) {
    const auto now = suite_time();
    request_view req{"POST", "/x", {{"Host", "h"}, {"X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"}}, "body"};
    auto added = sign(req, signing_key{"AKIDEXAMPLE", secret, "", "us-east-1", "lambda"}, now);
    // sign() hashes the body; a request that declares UNSIGNED-PAYLOAD is signed over that literal instead.
    std::vector<std::string> names{"host", "x-amz-content-sha256", "x-amz-date"};
    request_view dated = req;
    dated.headers.emplace_back("X-Amz-Date", added[0].second);
    EXPECT_NE(canonical_request(dated, names, "UNSIGNED-PAYLOAD", false).find("\nUNSIGNED-PAYLOAD"), std::string::npos);

    // A declared hash that is not the body's is refused before the signature is even compared.
    const std::string not_the_body_hash(64, 'a');  // named: request_view only points at its strings
    request_view wrong{"POST", "/x", {{"Host", "h"}, {"X-Amz-Content-Sha256", not_the_body_hash}}, "body"};
    auto wrong_added = sign(wrong, signing_key{"AKIDEXAMPLE", secret, "", "us-east-1", "lambda"}, now);
    for (const auto& [n, val] : wrong_added) wrong.headers.emplace_back(n, val);
    auto r = suite_verifier().verify(wrong, "lambda", now);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "The provided 'x-amz-content-sha256' header does not match what was computed.");
}

TEST(Sigv4, SessionTokens) {
    const auto now = suite_time();
    verifier v({credential{"p", "AKIDEXAMPLE", secret, "token-1"}}, verifier_options{});
    auto make = [&](const std::string& token) {
        request_view req{"GET", "/", {{"Host", "h"}}, ""};
        auto added = sign(req, signing_key{"AKIDEXAMPLE", secret, token, "us-east-1", "lambda"}, now);
        return added;
    };
    for (const auto& [token, ok] : std::vector<std::pair<std::string, bool>>{{"token-1", true}, {"token-2", false}, {"", false}}) {
        auto added = make(token);
        request_view req{"GET", "/", {{"Host", "h"}}, ""};
        for (const auto& [n, val] : added) req.headers.emplace_back(n, val);
        auto r = v.verify(req, "lambda", now);
        EXPECT_EQ(static_cast<bool>(r), ok) << token;
        if (!r) {
            EXPECT_EQ(r.error().type(), "UnrecognizedClientException");
        }
    }
}

std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return out;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    if (::pclose(p) != 0) out.clear();
    return out;
}

TEST(Sigv4, BotocoreVectors) {
    const std::filesystem::path script = std::filesystem::path(LAMBENT_SOURCE_DIR) / "tests/unit/auth/sigv4_vectors.py";
    if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 (with botocore) is not installed";
    const std::string text = run("/usr/bin/python3 " + script.string() + " 2>/dev/null");
    if (text.empty()) GTEST_SKIP() << "botocore is not importable by /usr/bin/python3 (python3-botocore)";
    const auto vectors = nlohmann::json::parse(text);
    ASSERT_GE(vectors.size(), 20u);
    const auto now = suite_time();
    for (const auto& vec : vectors) {
        const std::string service = vec["service"], method = vec["method"], target = vec["target"], body = vec["body"];
        std::vector<std::pair<std::string, std::string>> fields;
        for (const auto& h : vec["headers"]) fields.emplace_back(h[0], h[1]);
        auto view_of = [&](const std::vector<std::pair<std::string, std::string>>& f, std::string_view b) {
            request_view view{method, target, {}, b};
            for (const auto& [n, val] : f) view.headers.emplace_back(n, val);
            return view;
        };
        SCOPED_TRACE(method + " " + target + (vec["presigned"].get<bool>() ? " (presigned)" : ""));
        auto ok = suite_verifier().verify(view_of(fields, body), service, now);
        EXPECT_TRUE(ok) << ok.error().message;

        auto bad = suite_verifier("wrong").verify(view_of(fields, body), service, now);
        ASSERT_FALSE(bad);
        EXPECT_EQ(bad.error().type(), "InvalidSignatureException");

        if (!body.empty()) {
            auto tampered = suite_verifier().verify(view_of(fields, body + " "), service, now);
            EXPECT_FALSE(tampered);
        }
        if (vec["presigned"].get<bool>()) {
            auto late = suite_verifier().verify(view_of(fields, body), service, now + 300s + 15min + 1s);
            ASSERT_FALSE(late);
            EXPECT_TRUE(late.error().message.starts_with("Signature expired")) << late.error().message;
            continue;
        }
        // Our signer produces the same Authorization as botocore for the same request and time.
        std::vector<std::pair<std::string, std::string>> unsigned_fields;
        for (const auto& f : fields) {
            // botocore adds Content-Length after signing; it is sent but not signed.
            if (f.first != "Authorization" && f.first != "X-Amz-Date" && f.first != "Content-Length") unsigned_fields.push_back(f);
        }
        const auto added = sign(view_of(unsigned_fields, body), signing_key{"AKIDEXAMPLE", secret, "", "us-east-1", service}, now);
        EXPECT_EQ(added.back().second, vec["authorization"].get<std::string>());
    }
}

TEST(Sigv4, CredentialsFile) {
    auto parsed = parse_credentials("# comment\n[default]\naws_access_key_id = AKID1\naws_secret_access_key=s1\n\n"
                                    "[ci]\r\n; note\r\nAWS_ACCESS_KEY_ID = AKID2 \r\naws_secret_access_key = s2/+=\r\n"
                                    "aws_session_token = tok\r\n[empty]\nregion = us-east-1\n");
    ASSERT_TRUE(parsed) << parsed.error().message;
    ASSERT_EQ(parsed->size(), 2u);
    EXPECT_EQ((*parsed)[0].profile, "default");
    EXPECT_EQ((*parsed)[0].access_key_id, "AKID1");
    EXPECT_EQ((*parsed)[0].secret_access_key, "s1");
    EXPECT_EQ((*parsed)[1].profile, "ci");
    EXPECT_EQ((*parsed)[1].access_key_id, "AKID2");
    EXPECT_EQ((*parsed)[1].secret_access_key, "s2/+=");
    EXPECT_EQ((*parsed)[1].session_token, "tok");

    auto bad = parse_credentials("[default\naws_access_key_id = x\n");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "line 1: a section header must end with ']'");
    auto orphan = parse_credentials("aws_access_key_id = x\n");
    ASSERT_FALSE(orphan);
    auto noeq = parse_credentials("[a]\njunk\n");
    ASSERT_FALSE(noeq);
    EXPECT_EQ(noeq.error().message, "line 2: expected 'key = value'");
    auto empty = parse_credentials("");
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->empty());
}

}  // namespace
