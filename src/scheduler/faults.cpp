#include "lambent/scheduler/faults.hpp"

#include <algorithm>

namespace lambent::scheduler {

namespace {

constexpr std::pair<fault_kind, std::string_view> kind_names[] = {
    {fault_kind::throttle, "throttle"}, {fault_kind::timeout, "timeout"},     {fault_kind::oom, "oom"},
    {fault_kind::init_error, "init-error"}, {fault_kind::latency, "latency"},
};

}  // namespace

std::string_view to_string(fault_kind kind) {
    for (const auto& [k, name] : kind_names) {
        if (k == kind) return name;
    }
    return "throttle";
}

std::optional<fault_kind> parse_fault_kind(std::string_view name) {
    for (const auto& [k, n] : kind_names) {
        if (n == name) return k;
    }
    return std::nullopt;
}

std::string qualifier_of_arn(std::string_view arn) {
    // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    if (std::count(arn.begin(), arn.end(), ':') < 7) return {};
    return std::string(arn.substr(arn.rfind(':') + 1));
}

void fault_registry::set(fault f) {
    entry e;
    if (f.seed) {
        e.rng.seed(*f.seed);
    } else {
        e.rng.seed(std::random_device{}());
    }
    auto key = std::make_pair(f.function, f.qualifier);
    e.f = std::move(f);
    faults_.insert_or_assign(std::move(key), std::move(e));
}

std::size_t fault_registry::clear(const std::string& function, const std::optional<std::string>& qualifier) {
    return std::erase_if(faults_, [&](const auto& item) {
        const auto& [key, e] = item;
        return (function.empty() || key.first == function) && (!qualifier || key.second == *qualifier);
    });
}

std::vector<fault> fault_registry::list() const {
    std::vector<fault> out;
    out.reserve(faults_.size());
    for (const auto& [key, e] : faults_) out.push_back(e.f);
    return out;
}

std::optional<fault> fault_registry::take(const std::string& function, const std::string& version,
                                          const std::string& qualifier) {
    if (faults_.empty()) return std::nullopt;
    auto it = faults_.end();
    for (const std::string& q : {qualifier, version}) {
        if (q.empty()) continue;
        it = faults_.find({function, q});
        if (it != faults_.end()) break;
    }
    if (it == faults_.end()) it = faults_.find({function, std::string()});
    if (it == faults_.end()) return std::nullopt;
    auto& e = it->second;
    if (e.f.rate <= 0.0) return std::nullopt;
    if (e.f.rate < 1.0 && std::uniform_real_distribution<double>(0.0, 1.0)(e.rng) >= e.f.rate) return std::nullopt;
    ++e.f.injected;
    fault fired = e.f;
    if (e.f.remaining && --*e.f.remaining <= 0) faults_.erase(it);
    return fired;
}

}  // namespace lambent::scheduler
