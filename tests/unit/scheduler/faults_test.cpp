#include "lambent/scheduler/faults.hpp"

#include <gtest/gtest.h>

namespace lambent::scheduler {
namespace {

fault make(std::string function, fault_kind kind, std::string qualifier = "") {
    fault f;
    f.function = std::move(function);
    f.kind = kind;
    f.qualifier = std::move(qualifier);
    return f;
}

TEST(fault_kind, names_round_trip) {
    for (auto k : {fault_kind::throttle, fault_kind::timeout, fault_kind::oom, fault_kind::init_error,
                   fault_kind::latency}) {
        EXPECT_EQ(parse_fault_kind(to_string(k)), k);
    }
    EXPECT_EQ(to_string(fault_kind::init_error), "init-error");
    EXPECT_FALSE(parse_fault_kind("init_error"));
    EXPECT_FALSE(parse_fault_kind(""));
}

TEST(fault_registry, count_fires_exactly_n_times_then_clears) {
    fault_registry r;
    auto f = make("fn", fault_kind::throttle);
    f.remaining = 2;
    r.set(f);
    EXPECT_TRUE(r.take("fn", "$LATEST", ""));
    auto second = r.take("fn", "$LATEST", "");
    ASSERT_TRUE(second);
    EXPECT_EQ(second->injected, 2);
    EXPECT_FALSE(r.take("fn", "$LATEST", ""));
    EXPECT_TRUE(r.empty());
}

TEST(fault_registry, rate_zero_never_rate_one_always) {
    fault_registry r;
    auto f = make("fn", fault_kind::oom);
    f.rate = 0.0;
    r.set(f);
    for (int i = 0; i < 100; ++i) EXPECT_FALSE(r.take("fn", "$LATEST", ""));
    f.rate = 1.0;
    r.set(f);
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(r.take("fn", "$LATEST", ""));
    EXPECT_EQ(r.list().at(0).injected, 100);
}

TEST(fault_registry, seeded_rate_is_reproducible) {
    auto run = [] {
        fault_registry r;
        auto f = make("fn", fault_kind::throttle);
        f.rate = 0.3;
        f.seed = 42;
        r.set(f);
        std::vector<bool> out;
        for (int i = 0; i < 200; ++i) out.push_back(static_cast<bool>(r.take("fn", "1", "")));
        return out;
    };
    const auto a = run();
    EXPECT_EQ(a, run());
    const auto hits = std::count(a.begin(), a.end(), true);
    EXPECT_GT(hits, 20);
    EXPECT_LT(hits, 120);
}

TEST(fault_registry, qualifier_or_version_wins_over_function_wide) {
    fault_registry r;
    r.set(make("fn", fault_kind::throttle));
    r.set(make("fn", fault_kind::timeout, "live"));
    r.set(make("fn", fault_kind::oom, "3"));
    EXPECT_EQ(r.take("fn", "$LATEST", "")->kind, fault_kind::throttle);
    EXPECT_EQ(r.take("fn", "2", "live")->kind, fault_kind::timeout);
    EXPECT_EQ(r.take("fn", "3", "")->kind, fault_kind::oom);
    EXPECT_EQ(r.take("fn", "3", "other")->kind, fault_kind::oom);
    EXPECT_FALSE(r.take("other", "$LATEST", ""));
}

TEST(fault_registry, clear_by_function_and_qualifier) {
    fault_registry r;
    r.set(make("a", fault_kind::throttle));
    r.set(make("a", fault_kind::throttle, "live"));
    r.set(make("b", fault_kind::throttle));
    EXPECT_EQ(r.clear("a", std::string("live")), 1u);
    EXPECT_EQ(r.clear("a", std::nullopt), 1u);
    EXPECT_EQ(r.list().size(), 1u);
    EXPECT_EQ(r.clear("", std::nullopt), 1u);
    EXPECT_TRUE(r.empty());
}

TEST(fault_registry, qualifier_of_arn) {
    EXPECT_EQ(qualifier_of_arn("arn:aws:lambda:us-east-1:000000000000:function:fn"), "");
    EXPECT_EQ(qualifier_of_arn("arn:aws:lambda:us-east-1:000000000000:function:fn:live"), "live");
    EXPECT_EQ(qualifier_of_arn("arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST"), "$LATEST");
}

}  // namespace
}  // namespace lambent::scheduler
