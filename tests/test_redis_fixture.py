import redis.asyncio as redis


async def test_the_suite_has_a_real_redis_7_with_append_only_persistence(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        info = await client.info("server")
        persistence = await client.info("persistence")
        assert int(str(info["redis_version"]).split(".")[0]) >= 7
        assert persistence["aof_enabled"] == 1
    finally:
        await client.aclose()


async def test_each_test_starts_from_an_empty_redis(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert await client.dbsize() == 0
        await client.set("left-behind", "1")
    finally:
        await client.aclose()


async def test_each_test_starts_from_an_empty_redis_again(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert await client.dbsize() == 0
        await client.set("left-behind", "1")
    finally:
        await client.aclose()
