// src/cli is not in lambent_core: compile the unit under test here (see requests_test.cpp).
#include "cli/faults.cpp"

#include <gtest/gtest.h>

namespace lambent::cli {
namespace {

using nlohmann::json;

TEST(fault_set_request, builds_the_admin_api_body) {
    fault_options o;
    o.function = "my fn";
    o.spec = "latency=250";
    o.rate = 0.3;
    o.count = 5;
    o.qualifier = "live";
    o.seed = 7;
    auto r = fault_set_request(o);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->method, "PUT");
    EXPECT_EQ(r->target, "/_lambent/faults/my%20fn");
    EXPECT_EQ(json::parse(r->body), (json{{"Fault", "latency"}, {"LatencyMs", 250}, {"Rate", 0.3}, {"Count", 5},
                                          {"Qualifier", "live"}, {"Seed", 7}}));
}

TEST(fault_set_request, rejects_bad_specs) {
    for (const char* spec : {"explode", "latency", "latency=", "latency=-1", "latency=5ms", "timeout=3", ""}) {
        fault_options o;
        o.function = "fn";
        o.spec = spec;
        EXPECT_FALSE(fault_set_request(o)) << spec;
    }
    fault_options o;
    o.function = "fn";
    o.spec = "oom";
    o.rate = 1.5;
    EXPECT_FALSE(fault_set_request(o));
    o.rate.reset();
    o.count = 0;
    EXPECT_FALSE(fault_set_request(o));
}

TEST(fault_clear_request, targets) {
    fault_options o;
    EXPECT_EQ(fault_clear_request(o).target, "/_lambent/faults");
    o.function = "fn";
    o.qualifier = "$LATEST";
    EXPECT_EQ(fault_clear_request(o).target, "/_lambent/faults/fn?Qualifier=%24LATEST");
    EXPECT_EQ(fault_clear_request(o).method, "DELETE");
}

TEST(format_fault_list, table) {
    EXPECT_EQ(format_fault_list(json{{"Faults", json::array()}}), "no faults\n");
    const auto text = format_fault_list(json::parse(
        R"({"Faults":[{"FunctionName":"fn","Fault":"latency","LatencyMs":25,"Rate":0.5,"Count":3,"Injected":1}]})"));
    EXPECT_NE(text.find("FUNCTION"), std::string::npos);
    EXPECT_NE(text.find("latency=25"), std::string::npos);
    EXPECT_NE(text.find("0.5"), std::string::npos);
}

}  // namespace
}  // namespace lambent::cli
