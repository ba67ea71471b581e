#pragma once
/// EventBridge schedule expressions: `rate(value unit)` and the 6-field `cron(...)` (UTC), with AWS's
/// rules (contract §8.7): singular unit for 1, `?` in exactly one of day-of-month / day-of-week, `L`, `W`, `#`.

#include "lambent/common/error.hpp"

#include <array>
#include <chrono>
#include <optional>
#include <set>
#include <string>

namespace lambent::sam {

struct schedule {
    std::string expression;
    std::optional<std::chrono::minutes> rate;  // rate(...): the period
    // cron(...): allowed values per field; day fields carry the special forms.
    std::set<int> minutes, hours, months, years, days_of_month, days_of_week;  // dow: 1 = Sunday
    bool dom_any = false, dow_any = false;        // `?`
    bool last_day_of_month = false;               // L in day-of-month
    int nearest_weekday = 0;                      // 15W
    int last_weekday_of_month = 0;                // 5L in day-of-week (1-7)
    int nth_weekday = 0, nth = 0;                 // 3#2: second Tuesday
};

/// Parses an expression; errc::validation with the reason when it is not valid.
[[nodiscard]] result<schedule> parse_schedule(const std::string& expression);

/// cron: the first minute strictly after `after` (UTC) that matches, or nullopt if none before year 2200.
/// rate: `after` plus the period.
std::optional<std::chrono::sys_seconds> next_fire(const schedule& s, std::chrono::sys_seconds after);

}  // namespace lambent::sam
