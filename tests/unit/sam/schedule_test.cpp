#include "lambent/sam/schedule.hpp"

#include <gtest/gtest.h>

using namespace std::chrono;
using lambent::sam::next_fire;
using lambent::sam::parse_schedule;

namespace {
sys_seconds at(int y, unsigned mo, unsigned d, int h, int mi) {
    return sys_seconds(sys_days(year_month_day(year(y), month(mo), day(d))) + hours(h) + minutes(mi));
}
}  // namespace

TEST(sam_schedule, rates_follow_aws_grammar) {
    auto one = parse_schedule("rate(1 minute)");
    ASSERT_TRUE(one);
    EXPECT_EQ(one->rate.value(), minutes(1));
    EXPECT_EQ(parse_schedule("rate(2 hours)")->rate.value(), minutes(120));
    EXPECT_FALSE(parse_schedule("rate(1 minutes)"));
    EXPECT_FALSE(parse_schedule("rate(5 minute)"));
    EXPECT_FALSE(parse_schedule("rate(0 minutes)"));
    EXPECT_FALSE(parse_schedule("rate(5 seconds)"));
}

TEST(sam_schedule, cron_needs_six_fields_and_one_question_mark) {
    EXPECT_FALSE(parse_schedule("cron(0 12 * * *)"));
    EXPECT_FALSE(parse_schedule("cron(0 12 * * * *)"));
    EXPECT_FALSE(parse_schedule("cron(0 12 ? * ? *)"));
    EXPECT_FALSE(parse_schedule("cron(61 12 * * ? *)"));
    EXPECT_TRUE(parse_schedule("cron(0 12 * * ? *)"));
}

TEST(sam_schedule, cron_next_fire_times) {
    auto daily = parse_schedule("cron(0 12 * * ? *)");
    ASSERT_TRUE(daily);
    EXPECT_EQ(next_fire(*daily, at(2024, 5, 1, 11, 59)), at(2024, 5, 1, 12, 0));
    EXPECT_EQ(next_fire(*daily, at(2024, 5, 1, 12, 0)), at(2024, 5, 2, 12, 0));

    auto weekdays = parse_schedule("cron(0/15 * ? * MON-FRI *)");
    ASSERT_TRUE(weekdays);
    // 2024-05-04 is a Saturday: the next fire is Monday 00:00.
    EXPECT_EQ(next_fire(*weekdays, at(2024, 5, 3, 23, 50)), at(2024, 5, 6, 0, 0));
    EXPECT_EQ(next_fire(*weekdays, at(2024, 5, 6, 0, 0)), at(2024, 5, 6, 0, 15));

    auto first = parse_schedule("cron(0 8 1 * ? *)");
    EXPECT_EQ(next_fire(*first, at(2024, 5, 1, 9, 0)), at(2024, 6, 1, 8, 0));

    auto last_day = parse_schedule("cron(30 6 L * ? *)");
    ASSERT_TRUE(last_day);
    EXPECT_EQ(next_fire(*last_day, at(2024, 2, 1, 0, 0)), at(2024, 2, 29, 6, 30));

    auto second_tuesday = parse_schedule("cron(0 10 ? * 3#2 *)");
    ASSERT_TRUE(second_tuesday);
    EXPECT_EQ(next_fire(*second_tuesday, at(2024, 5, 1, 0, 0)), at(2024, 5, 14, 10, 0));

    auto last_friday = parse_schedule("cron(0 10 ? * 6L *)");
    ASSERT_TRUE(last_friday);
    EXPECT_EQ(next_fire(*last_friday, at(2024, 5, 1, 0, 0)), at(2024, 5, 31, 10, 0));

    auto past = parse_schedule("cron(0 0 1 1 ? 2000)");
    ASSERT_TRUE(past);
    EXPECT_FALSE(next_fire(*past, at(2024, 1, 1, 0, 0)).has_value());
}
